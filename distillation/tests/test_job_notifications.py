"""The owner hears when a job ends by itself (failed or completed); a cancel they asked for is not news."""

import pytest

from accounts.models import Notification
from accounts.services import user_create
from distillation.services import distillation_job_create, job_cancel, job_fail, job_lease_acquire
from prsm.request import DistillationRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(catalog_home):
    return user_create(username="ada", password="correct horse battery", email="ada@example.com")


def _job(owner):
    return distillation_job_create(owner=owner, request=DistillationRequest(teacher_model="catalog:digits-mlp", epochs=1))


def test_a_failed_job_notifies_its_owner_with_the_reason_and_a_link(ada):
    job = _job(ada)
    _, token = job_lease_acquire(job_id=job.job_id)

    assert job_fail(job=job, token=token, message="the teacher could not be loaded", platform_fault=True, used_seconds=0)

    notification = Notification.objects.get(user=ada)
    assert notification.kind == "job_failed" and "the teacher could not be loaded" in notification.message
    assert notification.link == f"/jobs/{job.job_id}/"


def test_a_cancelled_job_sends_nothing(ada):
    job_cancel(job=_job(ada))

    assert not Notification.objects.exists()
