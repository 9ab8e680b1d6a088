"""Writes for webhooks: endpoints (register, update, rotate the secret, delete), events (emit, ping,
re-send) and the attempts the ``webhook_deliver`` actor makes (check the address again, sign, POST,
record; then retry later, give up, or disable the endpoint).

An attempt is message ``(delivery_id, attempt)``: it runs only while the delivery is pending and has
made ``attempt - 1`` attempts, and is recorded only if that still holds after the POST, so a message
Dramatiq delivers twice is sent at most once more (the receiver drops it by its ``PRSM-Webhook-Id``)
and recorded once. A delivery whose message was never queued (the broker was down at the commit) or
was lost with its worker stays pending; ``webhook_deliveries_sweep`` queues it again.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts import secrets as sealed
from accounts.services import notification_send
from core.broker import actor_named
from core.errors import DomainError
from prsm.engine.teachers.http_transport import TeacherHttpError, check_url, post_body
from prsm.webhooks import signed_headers

from .models import EVENT_TYPES, PING, WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger("prsm.webhooks")

SECRET_PREFIX = "whsec_"  # nosec B105  # the visible start of every secret, not a secret
SECRET_VISIBLE = len(SECRET_PREFIX) + 4  # what the endpoint list shows of a secret
USER_AGENT = "PRSM-Distill-Webhooks/1"
ALLOW_SETTING = "WEBHOOK_HOSTS_ALLOW"


class WebhookError(DomainError):
    status_code = 400
    code = "invalid"


def site_url(path: str) -> str:
    """``path`` on this site, absolute when ``SITE_URL`` is set (webhook bodies leave the site)."""
    return f"{settings.SITE_URL}{path}"


# --- endpoints


def webhook_url_check(url: str) -> str:
    """The URL as stored, or a WebhookError naming ``url``: not http(s), or a host that resolves to a private,
    loopback or reserved address outside ``WEBHOOK_HOSTS_ALLOW``. Checked again before every attempt."""
    url = (url or "").strip()
    if not url or len(url) > WebhookEndpoint._meta.get_field("url").max_length:
        raise WebhookError("Give the URL that receives the events (http or https, at most 500 characters).",
                           field="url")
    try:
        check_url(url, list(settings.WEBHOOK_HOSTS_ALLOW), what="webhook URL", allow_setting=ALLOW_SETTING)
    except TeacherHttpError as error:
        raise WebhookError(str(error), field="url", code="url_refused") from None
    return url


def webhook_events_clean(events) -> str:
    """The stored form of the events (``EVENT_TYPES`` order, comma-separated), or a WebhookError naming ``events``."""
    chosen = set(events or ())
    if unknown := sorted(chosen - set(EVENT_TYPES)):
        raise WebhookError(f"Unknown event “{unknown[0]}”; the events are {', '.join(EVENT_TYPES)}.", field="events")
    if not chosen:
        raise WebhookError("Choose at least one event.", field="events")
    return ",".join(event for event in EVENT_TYPES if event in chosen)


def _secret_set(endpoint: WebhookEndpoint) -> str:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    endpoint.secret_encrypted = sealed.seal(secret)
    endpoint.secret_prefix = secret[:SECRET_VISIBLE]
    return secret


def _save(endpoint: WebhookEndpoint) -> None:
    try:
        endpoint.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise WebhookError(messages[0], field=field) from None
    endpoint.save()


@transaction.atomic
def webhook_endpoint_create(*, user, url: str, events, description: str = "") -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its signing secret; the secret exists in plain only in the return value
    (stored encrypted, so that only the server can sign). Refused past ``WEBHOOK_MAX_ENDPOINTS`` (409)."""
    url, events = webhook_url_check(url), webhook_events_clean(events)
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()  # two requests cannot both pass the limit
    if WebhookEndpoint.objects.filter(user=user).count() >= settings.WEBHOOK_MAX_ENDPOINTS:
        raise WebhookError(f"You already have {settings.WEBHOOK_MAX_ENDPOINTS} webhook endpoints, the most allowed; "
                           "delete one you no longer use first.", field="url", code="endpoint_limit", status_code=409)
    endpoint = WebhookEndpoint(user=user, url=url, events=events, description=" ".join((description or "").split()))
    secret = _secret_set(endpoint)
    _save(endpoint)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, url: str | None = None, events=None,
                            description: str | None = None, is_active: bool | None = None) -> WebhookEndpoint:
    """Change what is given. Enabling an endpoint again clears its failure count and the reason it was disabled."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if url is not None:
        endpoint.url = webhook_url_check(url)
    if events is not None:
        endpoint.events = webhook_events_clean(events)
    if description is not None:
        endpoint.description = " ".join(description.split())
    if is_active is not None:
        if is_active and not endpoint.is_active:
            endpoint.consecutive_failures, endpoint.disabled_reason = 0, ""
        endpoint.is_active = is_active
    _save(endpoint)
    return endpoint


@transaction.atomic
def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> tuple[WebhookEndpoint, str]:
    """A new secret at once (the old one stops signing); returned this once. Attempts already queued sign with it."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = _secret_set(endpoint)
    _save(endpoint)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """The endpoint and its deliveries; a queued attempt finds nothing and does nothing."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


# --- events


def _event_body(event_type: str, data: dict) -> tuple[uuid.UUID, str]:
    event_id = uuid.uuid4()
    body = {"id": str(event_id), "type": event_type, "created": int(time.time()), "data": data}
    return event_id, json.dumps(body, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def _deliveries_create(endpoints: list[WebhookEndpoint], event_type: str, data: dict,
                       final_attempt: int) -> list[WebhookDelivery]:
    event_id, body = _event_body(event_type, data)
    now = timezone.now()
    deliveries = [WebhookDelivery.objects.create(endpoint=endpoint, event_id=event_id, event_type=event_type, body=body,
                                                 final_attempt=final_attempt, next_attempt_at=now)
                  for endpoint in endpoints]
    for delivery in deliveries:
        _enqueue_on_commit(str(delivery.delivery_id), 1)
    return deliveries


def _enqueue_on_commit(delivery_id: str, attempt: int, *, manual: bool = False) -> None:
    # robust: a broker that is down must not undo what the caller committed (the sweep queues it later)
    transaction.on_commit(lambda: _enqueue(delivery_id, attempt, manual=manual), robust=True)


def _enqueue(delivery_id: str, attempt: int, *, delay_s: float = 0, manual: bool = False) -> None:
    actor_named("webhook_deliver").send_with_options(args=(delivery_id, attempt), kwargs={"manual": manual},
                                                     delay=int(delay_s * 1000) or None)


def event_emit(*, user, type: str, data: dict) -> list[WebhookDelivery]:
    """A delivery of the event to each of the user's active endpoints subscribed to ``type``, queued once
    the caller's transaction commits. Never raises for a problem of its own: an event is news about what
    the caller did (a job's end, a sale), and must not undo it."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {type!r}")
    try:
        with transaction.atomic():
            endpoints = [e for e in WebhookEndpoint.objects.filter(user=user, is_active=True) if type in e.event_list]
            if not endpoints:
                return []
            return _deliveries_create(endpoints, type, data, final_attempt=1 + len(settings.WEBHOOK_RETRY_DELAYS_S))
    except Exception:  # logged, never lost silently; the caller's own work stands
        log.exception("webhook event %s for user %s could not be recorded", type, getattr(user, "pk", None))
        return []


@transaction.atomic
def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``ping`` test event to the endpoint, active or not: one attempt, which never counts towards disabling it."""
    data = {"endpoint_id": str(endpoint.endpoint_id), "message": "A test event from PRSM Distill."}
    return _deliveries_create([endpoint], PING, data, final_attempt=1)[0]


@transaction.atomic
def webhook_delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the delivery again now, with the same id and body: one more attempt for a finished delivery
    (no automatic retries after it), or the next attempt at once for one still waiting to retry."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    attempt = delivery.attempt_count + 1
    if delivery.status != WebhookDelivery.Status.PENDING:
        delivery.status, delivery.final_attempt = WebhookDelivery.Status.PENDING, attempt
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "final_attempt", "next_attempt_at"])
    _enqueue_on_commit(str(delivery.delivery_id), attempt, manual=True)
    return delivery


# --- attempts (the webhook_deliver actor)


@dataclass
class Outcome:
    status_code: int | None = None
    excerpt: str = ""
    duration_ms: float | None = None
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _due(delivery: WebhookDelivery, attempt: int) -> bool:
    return delivery.status == WebhookDelivery.Status.PENDING and delivery.attempt_count == attempt - 1


def webhook_delivery_attempt(*, delivery_id: str, attempt: int, manual: bool = False) -> WebhookAttempt | None:
    """Make attempt number ``attempt`` of the delivery and record it; None when the message is stale (the
    attempt was made, the delivery is over or gone). The POST runs outside any transaction."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(delivery_id=delivery_id).first()
    if delivery is None or not _due(delivery, attempt):
        return None
    if not delivery.endpoint.is_active and not manual and delivery.event_type != PING:
        WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(
            status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error="The endpoint is disabled.")
        return None
    return _attempt_record(delivery.pk, attempt, _post(delivery.endpoint, delivery), manual=manual)


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> Outcome:
    body = delivery.body.encode("utf-8")
    timeout = settings.WEBHOOK_TIMEOUT_S
    started = time.perf_counter()
    try:
        target = check_url(endpoint.url, list(settings.WEBHOOK_HOSTS_ALLOW), what="webhook URL",
                           allow_setting=ALLOW_SETTING)  # again: what the name resolves to may have changed
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   **signed_headers(sealed.reveal(endpoint.secret_encrypted), str(delivery.delivery_id), body)}
        answer = post_body(target, body, headers, timeout, settings.WEBHOOK_RESPONSE_EXCERPT_BYTES, truncate=True)
    except TeacherHttpError as error:
        return Outcome(error=str(error))
    except sealed.SecretUnreadable:
        return Outcome(error="The endpoint's secret cannot be decrypted with this server's key; rotate the secret.")
    except (TimeoutError, socket.timeout):
        return Outcome(error=f"No answer within {timeout} s.", duration_ms=_ms_since(started))
    except (OSError, http.client.HTTPException) as error:
        return Outcome(error=f"Connection failed ({type(error).__name__}: {error}).", duration_ms=_ms_since(started))
    excerpt = answer.body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")  # PostgreSQL text has no NUL
    error = "" if 200 <= answer.status < 300 else f"HTTP {answer.status}" + (
        " (a redirect: redirects are not followed; register the final URL)" if 300 <= answer.status < 400 else "")
    return Outcome(answer.status, excerpt + ("…" if answer.truncated else ""), round(answer.seconds * 1000, 1), error)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


@transaction.atomic
def _attempt_record(delivery_pk: int, attempt: int, outcome: Outcome, *, manual: bool) -> WebhookAttempt | None:
    delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_pk).first()
    if delivery is None or not _due(delivery, attempt):
        return None  # deleted with its endpoint meanwhile, or another copy of this message recorded this attempt
    record = WebhookAttempt.objects.create(
        delivery=delivery, number=attempt, manual=manual, status_code=outcome.status_code,
        response_excerpt=outcome.excerpt, duration_ms=outcome.duration_ms, error=outcome.error[:500],
        succeeded=outcome.succeeded)
    now = timezone.now()
    delivery.attempt_count, delivery.last_status_code, delivery.last_error = attempt, outcome.status_code, outcome.error[:500]
    if outcome.succeeded:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = WebhookDelivery.Status.SUCCEEDED, now, None
        _endpoint_succeeded(delivery)
    elif attempt < delivery.final_attempt:
        delays = settings.WEBHOOK_RETRY_DELAYS_S
        delay = delays[min(attempt, len(delays)) - 1] * random.uniform(1.0, 1.1)  # nosec B311  # jitter, not a secret
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        delivery_id = str(delivery.delivery_id)
        transaction.on_commit(lambda: _enqueue(delivery_id, attempt + 1, delay_s=delay), robust=True)
    else:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        _endpoint_failed(delivery)
    delivery.save(update_fields=["attempt_count", "last_status_code", "last_error", "status", "delivered_at",
                                 "next_attempt_at"])
    return record


def _endpoint_succeeded(delivery: WebhookDelivery) -> None:
    if delivery.event_type != PING:
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, consecutive_failures__gt=0).update(consecutive_failures=0)


def _endpoint_failed(delivery: WebhookDelivery) -> None:
    """One more event delivery in a row that used up its attempts; at the threshold the endpoint is
    disabled and its owner told (once: a disabled endpoint is not disabled again)."""
    if delivery.event_type == PING:
        return
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    endpoint.consecutive_failures += 1
    fields = ["consecutive_failures", "updated_at"]
    if endpoint.is_active and endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES:
        endpoint.is_active = False
        endpoint.disabled_reason = (f"Disabled after {endpoint.consecutive_failures} deliveries in a row failed "
                                    f"(last: {delivery.last_error or 'no answer'})")[:200]
        fields += ["is_active", "disabled_reason"]
        notification_send(user=endpoint.user, kind="webhook_disabled", link=f"/account/webhooks/{endpoint.endpoint_id}/",
                          message=f"Your webhook endpoint {endpoint.url} was disabled: {endpoint.consecutive_failures} "
                                  "deliveries in a row failed. Fix it, then enable it again.")
    endpoint.save(update_fields=fields)


def webhook_deliveries_sweep(*, limit: int = 500) -> int:
    """Queue again each pending delivery whose attempt was due more than ``WEBHOOK_SWEEP_AFTER_S`` ago
    (never queued, or lost with its worker); how many. Run every few minutes by ``webhook_sweep``."""
    now = timezone.now()
    late = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING,
                                          next_attempt_at__lt=now - timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_S))
    queued = 0
    for pk, delivery_id, due, made in late.values_list("pk", "delivery_id", "next_attempt_at", "attempt_count")[:limit]:
        # taken by this sweep only if no other moved it meanwhile; not swept again for WEBHOOK_SWEEP_AFTER_S
        if WebhookDelivery.objects.filter(pk=pk, next_attempt_at=due, attempt_count=made).update(next_attempt_at=now):
            _enqueue(str(delivery_id), made + 1)
            queued += 1
    return queued
