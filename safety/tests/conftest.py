import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.services import moderator_add, user_create
from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once
from distillation.selectors import job_out_dir
from distillation.services import distillation_job_create, job_complete, job_lease_acquire
from prsm.request import DistillationRequest

REQUEST = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 1000, "epochs": 2,
           "quality_threshold": 0.5}


def check(passed: bool, phase: str | None = "after", detail: str = "measured") -> dict:
    record = {"passed": passed, "score": 0.1, "threshold": 0.15, "detail": detail}
    return record | {"phase": phase} if phase else record


@pytest.fixture
def make_user(db):
    def make(username: str, moderator: bool = False, staff: bool = False):
        user = user_create(username=username, password="correct horse battery", email=f"{username}@example.com",
                           is_staff=staff)
        if moderator:
            moderator_add(user=user)
        return user

    return make


@pytest.fixture
def api_for():
    def client(user) -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        return api

    return client


@pytest.fixture
def completed_job(catalog_home, db):
    """A job taken through the real services to completed, with the given checks in its report."""

    def complete(owner, checks: dict):
        job = distillation_job_create(owner=owner, request=DistillationRequest.model_validate(REQUEST))
        job, token = job_lease_acquire(job_id=job.job_id)
        path = job_out_dir(job) / "model.safetensors"
        report = {"retention": 0.9, "checks": checks, "stages": {"train": {"seconds": 1.0}},
                  "exports": {"safetensors": {"path": str(path), "sha256": "0" * 64, "size_bytes": 10, "verified": True}}}
        assert job_complete(job=job, token=token, report=report)
        job.refresh_from_db()
        return job

    return complete
