"""Teachers over HTTP on this server (``endpoint:URL``, ``openai:MODEL``, bare names like ``gpt-4``):
which provider and key a job uses, the address allow-list at creation, the token price, and the
key handed to the engine at run time only (never in ``engine_config``, the report or a log line)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.conf import settings

from accounts.models import ProviderCredential
from accounts.secrets import SecretUnreadable, reveal
from core.errors import DomainError
from ledger import pricing
from prsm.engine.teachers.http_transport import allowed_hosts, check_url_quietly
from prsm.planning import teacher_ref_resolve

OPENAI, ENDPOINT = "openai:", "endpoint:"
PROMPT_TOKENS = 60  # the instructions and a short label set, on top of each text's tokens
ASKED_PER_ROW = 1.5  # every row once, plus the robustness check's perturbed test rows


class HttpTeacherRefused(DomainError):
    status_code = 400
    code = "invalid"


@dataclass(frozen=True)
class RemoteTeacher:
    ref: str  # endpoint:URL or openai:MODEL
    url: str  # where the requests go
    base_url: str  # an openai provider's base URL; "" for an endpoint
    provider: str  # "user" (a saved credential), "operator" (settings) or "none" (an endpoint without a token)


def allow_list() -> list[str]:
    return allowed_hosts(settings.PRSM_TEACHER_HOSTS_ALLOW)


def remote_teacher(ref: str, owner) -> RemoteTeacher:
    """The teacher's provider and URL, refused (400, naming what to configure or why the address
    is not allowed) before any job is made."""
    ref = teacher_ref_resolve(ref)
    if ref.startswith(OPENAI):
        credential = _openai_credential(owner)
        base = credential.base_url if credential else settings.PRSM_OPENAI_BASE_URL
        if not credential and not (base and settings.PRSM_OPENAI_API_KEY):
            raise HttpTeacherRefused(
                f"{ref} is served by an OpenAI-compatible provider and none is configured: save your provider's base "
                "URL and key on your account page (or POST /api/v1/auth/providers/), or ask the operator to set "
                "PRSM_OPENAI_BASE_URL and PRSM_OPENAI_API_KEY.", field="teacher_model")
        remote = RemoteTeacher(ref, f"{base.rstrip('/')}/chat/completions", base.rstrip("/"),
                               "user" if credential else "operator")
    else:
        url = ref.removeprefix(ENDPOINT)
        remote = RemoteTeacher(ref, url, "", "user" if _endpoint_credential(owner, url) else "none")
    reason = check_url_quietly(remote.url, allow_list())
    if reason:
        raise HttpTeacherRefused(reason, field="teacher_model")
    return remote


def _openai_credential(owner) -> ProviderCredential | None:
    if owner is None or not getattr(owner, "pk", None):
        return None
    saved = ProviderCredential.objects.filter(user=owner)
    return saved.filter(name="openai").first() or saved.first()


def _endpoint_credential(owner, url: str) -> ProviderCredential | None:
    """The user's saved key whose base URL the endpoint's URL starts with (another PRSM server's token)."""
    if owner is None or not getattr(owner, "pk", None):
        return None
    return next((c for c in ProviderCredential.objects.filter(user=owner) if url.startswith(c.base_url.rstrip("/") + "/")),
                None)


def engine_options(remote: RemoteTeacher) -> dict:
    """``DistillConfig.teacher_http`` for the job: no key in it, ever."""
    return {"base_url": remote.base_url or None, "allow_hosts": list(settings.PRSM_TEACHER_HOSTS_ALLOW),
            "price_per_1k_tokens_units": settings.PRSM_TEACHER_PRICE_PER_1K_TOKENS_UNITS,
            "concurrency": settings.PRSM_TEACHER_CONCURRENCY, "timeout_s": settings.PRSM_TEACHER_TIMEOUT_S}


def token_units_estimate(*, remote: RemoteTeacher, rows: int, text_tokens: int) -> int:
    """What the teacher's tokens are expected to cost (openai teachers; an endpoint bills its own way)."""
    if not remote.ref.startswith(OPENAI):
        return 0
    tokens = int(rows * ASKED_PER_ROW) * (text_tokens + PROMPT_TOKENS + 1)
    return -(-tokens * settings.PRSM_TEACHER_PRICE_PER_1K_TOKENS_UNITS // 1000)


def with_token_fee(cost: pricing.JobCost, units: int) -> pricing.JobCost:
    """The job's cost with the teacher's tokens added to its teacher fee (where the tokens are paid)."""
    if not units:
        return cost
    first, *rest = cost.teacher_fees
    return dataclasses.replace(cost, teacher_fees=(first + units, *rest))


def report_token_units(report: dict | None) -> int:
    usage = ((report or {}).get("teacher") or {}).get("usage") or {}
    units = usage.get("cost_units", 0)
    return units if isinstance(units, int) and units > 0 else 0


def run_secrets(*, config: dict, owner) -> dict:
    """The key the engine needs for this job's teacher, read when the job runs: ``api_key`` for an
    openai teacher (the owner's saved key for the job's base URL, else the operator's), ``token``
    for an endpoint (the owner's key saved for its URL). Empty for any other teacher."""
    teacher = config.get("teacher", "")
    try:
        if teacher.startswith(OPENAI):
            base = ((config.get("teacher_http") or {}).get("base_url") or "").rstrip("/")
            saved = next((c for c in ProviderCredential.objects.filter(user=owner) if c.base_url.rstrip("/") == base), None)
            if saved is not None:
                return {"api_key": reveal(saved.key_encrypted)}
            if base == settings.PRSM_OPENAI_BASE_URL.rstrip("/"):
                return {"api_key": settings.PRSM_OPENAI_API_KEY}
            return {}
        if teacher.startswith(ENDPOINT):
            saved = _endpoint_credential(owner, teacher.removeprefix(ENDPOINT))
            return {"token": reveal(saved.key_encrypted)} if saved else {}
    except SecretUnreadable:
        return {}
    return {}
