"""Through real worker processes: a killed worker's job resumes elsewhere; a message delivered
twice runs once; a cancel stops a running job within seconds and frees the worker."""

import signal
import time

import pytest
from rest_framework.authtoken.models import Token

from accounts.services import user_create
from distillation.models import DistillationJob, JobEvent
from distillation.tasks import distillation_run
from ledger.models import Hold, Transaction
from tests.fixtures import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FAST_RECOVERY = {
    "DISTILLATION_LEASE_SECONDS": "3",
    "DRAMATIQ_REDIS_HEARTBEAT_TIMEOUT_MS": "2000",
    "DRAMATIQ_REDIS_MAINTENANCE_CHANCE": "1000000",
}


@pytest.fixture
def submit(client, catalog_home):
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    headers = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}

    def submit(**fields) -> DistillationJob:
        body = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 1000, "quality_threshold": 0.5,
                "export_formats": ["safetensors"], **fields}
        response = client.post("/api/v1/distillations/", body, content_type="application/json", **headers)
        assert response.status_code == 201, response.content
        return DistillationJob.objects.get(job_id=response.json()["job_id"])

    submit.headers = headers
    return submit


def _without_early_stopping(job: DistillationJob) -> DistillationJob:
    """Make a queued job train for all its epochs, so that it is still training when the test acts,
    and checkpoint every 5 steps (the default is every 60 s, longer than this whole run on an idle
    CPU), so a killed run has one to resume from."""
    DistillationJob.objects.filter(pk=job.pk).update(engine_config={**job.engine_config, "patience": 10_000,
                                                                    "checkpoint_every": 5})
    return job


def _job(job: DistillationJob) -> DistillationJob:
    return DistillationJob.objects.get(pk=job.pk)


def _training(job: DistillationJob, past: float) -> bool:
    current = _job(job)
    return current.current_stage == "train" and current.progress >= past


def test_a_job_whose_worker_is_killed_resumes_on_another_and_completes_once(submit, start_worker):
    job = _without_early_stopping(submit(epochs=40))
    first = start_worker(**FAST_RECOVERY)
    wait_for(lambda: _training(job, past=45), 180, "training well under way", interval=0.2)

    first.kill_all()
    start_worker(**FAST_RECOVERY)
    wait_for(lambda: _job(job).is_finished, 240, "the job to finish on the second worker", interval=0.5)

    job = _job(job)
    assert job.status == "completed", job.error
    assert job.attempts == 2
    reference = f"job:{job.job_id}"
    assert Transaction.objects.filter(reference=reference, kind=Transaction.Kind.SETTLE).count() == 1
    assert Hold.objects.get(reference=reference).state == Hold.State.SETTLED
    assert JobEvent.objects.filter(job=job, type="completed").count() == 1
    assert len(JobEvent.objects.filter(job=job, type="stage", payload__stage="train")) == 2
    assert job.report["training"]["resumed_from_step"] > 0  # the second run went on from a checkpoint


def test_a_message_delivered_twice_runs_once_and_a_cancel_stops_it_within_seconds(client, submit, start_worker):
    job = _without_early_stopping(submit(epochs=200))
    duplicate = distillation_run.message(str(job.job_id))
    distillation_run.broker.enqueue(duplicate)
    start_worker()
    wait_for(lambda: _training(job, past=30), 180, "training under way", interval=0.2)

    asked = time.monotonic()
    response = client.post(f"/api/v1/distillations/{job.job_id}/cancel/", **submit.headers)
    assert response.status_code == 200
    wait_for(lambda: _job(job).is_finished, 5, "the cancel to take effect", interval=0.1)
    assert time.monotonic() - asked < 5

    job = _job(job)
    assert job.status == "cancelled"
    assert job.attempts == 1
    assert JobEvent.objects.filter(job=job, type="stage", payload__stage="load_data").count() == 1
    assert Hold.objects.get(reference=f"job:{job.job_id}").state == Hold.State.SETTLED  # charged for the time used

    second = submit(epochs=2)
    wait_for(lambda: _job(second).is_finished, 120, "the worker to take the next job", interval=0.5)
    assert _job(second).status == "completed"
