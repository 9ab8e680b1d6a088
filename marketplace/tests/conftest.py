import hashlib

import pytest

from distillation.selectors import job_out_dir
from distillation.services import distillation_job_create, job_complete, job_deploy, job_lease_acquire
from ledger.amounts import UNITS_PER_FTNS
from ledger.tests.factories import fund
from marketplace import services
from prsm.request import DistillationRequest
from safety.tests.conftest import REQUEST, api_for, catalog_home, check  # noqa: F401 - shared fixtures
from safety.tests.conftest import make_user as make_unfunded_user  # noqa: F401 - a fixture

__all__ = ["check"]


def report_of(path, *, retention=0.9, latency=2.0, checks=None) -> dict:
    return {"task": "tabular", "backend": "pytorch", "seed": 0, "data_sha256": "d" * 64, "retention": retention,
            "compression_ratio": 8.0, "speedup": 3.5,
            "teacher": {"params": 8000, "accuracy": 0.95, "latency_ms_p50": 7.0, "latency_ms_p95": 9.0},
            "student": {"params": 1000, "accuracy": 0.95 * retention, "latency_ms_p50": latency,
                        "latency_ms_p95": latency * 1.5, "architecture": "mlp"},
            "checks": checks or {"calibration": check(True)}, "stages": {"train": {"seconds": 1.0}},
            "exports": {"onnx": {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                 "size_bytes": path.stat().st_size, "verified": True}}}


@pytest.fixture
def make_user(make_unfunded_user):
    """safety's ``make_user``, with 1,000 FTNS paid into the wallet: the signup grant is promotional
    credit, which pays for jobs only, never purchases."""

    def make(username: str, **roles):
        user = make_unfunded_user(username, **roles)
        fund(user, 1000)
        return user

    return make


@pytest.fixture
def completed_job(catalog_home, db):
    """A job taken through the real services to completed, with an ONNX export on disk (no training) and,
    when given, a model card."""

    def complete(owner, *, request=None, model_card=None, **report):
        job = distillation_job_create(owner=owner, request=DistillationRequest.model_validate({**REQUEST, **(request or {})}))
        job, token = job_lease_acquire(job_id=job.job_id)
        path = job_out_dir(job) / "model.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"onnx-model")
        if model_card is not None:
            (path.parent / "MODEL_CARD.md").write_text(model_card)
        assert job_complete(job=job, token=token, report=report_of(path, **report))
        job.refresh_from_db()
        return job

    return complete


@pytest.fixture
def listed(completed_job):
    """A deployed, listed model: prices in whole FTNS."""

    def make(owner, *, title="digits model", domain="digits", buy=10, rent=2, request=None, **report):
        job = completed_job(owner, request={"domain": domain, **(request or {})}, **report)
        deployment = job_deploy(job=job)
        return services.listing_create(owner=owner, deployment=deployment, title=title, description=f"{title} for {domain}",
                                       price_buy=buy and buy * UNITS_PER_FTNS, price_rent=rent and rent * UNITS_PER_FTNS)

    return make
