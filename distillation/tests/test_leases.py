"""The job lease: who may run a job, and when."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.services import user_create
from distillation.models import DistillationJob
from distillation.services import LeaseBusy, job_lease_acquire, job_lease_renew

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return user_create(username="ada", password="correct horse battery", email="ada@example.com")


def _job(owner, **fields) -> DistillationJob:
    return DistillationJob.objects.create(owner=owner, request={}, engine_config={}, backend="pytorch",
                                          backend_reason="test", cost_estimate_ftns=1, **fields)


def test_taking_a_job_bumps_its_fencing_token_and_an_old_token_can_no_longer_renew(owner):
    job = _job(owner)
    _, first = job_lease_acquire(job_id=job.job_id)
    DistillationJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    _, second = job_lease_acquire(job_id=job.job_id)

    assert second == first + 1
    assert not job_lease_renew(job=job, token=first)
    assert job_lease_renew(job=job, token=second)
    assert DistillationJob.objects.get(pk=job.pk).attempts == 2


def test_a_job_held_by_a_live_worker_is_not_taken_twice(owner):
    job = _job(owner)
    job_lease_acquire(job_id=job.job_id)

    with pytest.raises(LeaseBusy, match="held by another worker"):
        job_lease_acquire(job_id=job.job_id)


def test_a_finished_job_is_a_no_op(owner):
    job = _job(owner, status=DistillationJob.Status.COMPLETED)

    assert job_lease_acquire(job_id=job.job_id) is None


@override_settings(DISTILLATION_MAX_RUNNING_PER_USER=1)
def test_a_user_at_the_running_limit_waits_for_a_turn(owner):
    job_lease_acquire(job_id=_job(owner).job_id)
    waiting = _job(owner)

    with pytest.raises(LeaseBusy, match="waits its turn"):
        job_lease_acquire(job_id=waiting.job_id)
