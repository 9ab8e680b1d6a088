"""A job whose spending reaches its budget: the engine's circuit breaker stops it during training,
the job fails with the reason, the safety report shows the trip, and the owner is charged no more
than the budget.

At the seed's price (25 FTNS a compute hour) a budget of whole FTNS takes minutes of compute to
run out, so the compute hour is priced at 36,000 FTNS here. The price must be the same where the
job is planned, metered and settled, and a worker process would not share this test's price, so
the test runs the job's actor in this process, the way a worker does, on the real database.
"""

import math

import pytest

from accounts.services import user_create
from distillation import planning, services
from distillation.models import DistillationJob
from distillation.tasks import distillation_run
from ledger import pricing
from ledger.amounts import UNITS_PER_FTNS
from ledger.models import Hold
from ledger.selectors import wallet_balance
from prsm.request import DistillationRequest
from safety.models import SafetyReport

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def expensive_compute(monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(pricing, "COMPUTE_HOUR_FEE", 36_000 * UNITS_PER_FTNS)  # 10 FTNS a second
    monkeypatch.setattr(planning, "JOB_OVERHEAD_S", 6)  # the estimate, so the least budget, covers ~8 s of running
    monkeypatch.setattr(services, "_enqueue", lambda job_id, time_limit_ms: None)  # the test is the worker


def test_a_job_stopped_at_its_budget_fails_with_the_reason_and_is_charged_at_most_the_budget(
    catalog_home, expensive_compute
):
    owner = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    fields = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "quality_threshold": 0.5, "epochs": 200,
              "export_formats": ["safetensors"]}
    estimate = planning.plan(request=DistillationRequest(**fields), owner=owner).cost.total
    budget = math.ceil(estimate / UNITS_PER_FTNS)  # the least budget the job is accepted with
    before = wallet_balance(user=owner)
    job = services.distillation_job_create(owner=owner, request=DistillationRequest(**fields, budget_ftns=budget))
    # still training when the money runs out (200 epochs take ~6 s here), not stopped early once it stops improving
    DistillationJob.objects.filter(pk=job.pk).update(engine_config={**job.engine_config, "epochs": 1000, "patience": 10_000})

    distillation_run(str(job.job_id))

    job.refresh_from_db()
    assert job.status == DistillationJob.Status.FAILED
    assert f"circuit breaker tripped: spending reached {budget}" in job.error, job.error
    assert f"of the {budget} FTNS budget at step" in job.error
    report = SafetyReport.objects.get(job=job)
    assert report.breaker_state == SafetyReport.Breaker.TRIPPED and "spending reached" in report.reason
    trip = report.checks["circuit_breaker"]
    assert trip["reason"] == "over_budget" and trip["step"] > 0

    hold = Hold.objects.get(reference=services.job_hold_reference(job))
    assert hold.state == Hold.State.SETTLED
    assert hold.budget == budget * UNITS_PER_FTNS
    # the run's cost had reached the budget (the bill measures at least as long), yet the charge stops
    # at the hold: the estimate, within the budget
    assert trip["spent_units"] >= trip["budget_units"] == hold.budget
    assert hold.charged == hold.amount <= hold.budget
    assert wallet_balance(user=owner) == before - hold.charged
