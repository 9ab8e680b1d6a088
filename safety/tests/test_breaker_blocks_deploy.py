"""A failed safety check trips the job's breaker: deploy answers 409 until a moderator approves."""

import pytest

from safety import services
from safety.models import ModerationAction, SafetyReport

from .conftest import check


def test_a_job_that_passes_its_checks_has_a_closed_breaker_and_deploys(make_user, api_for, completed_job):
    owner = make_user("ada")
    job = completed_job(owner, {"calibration": check(True), "retention": check(True, phase=None)})
    assert job.safety_report.breaker_state == "closed" and set(job.safety_report.checks) == {"calibration"}
    assert api_for(owner).post(f"/api/v1/distillations/{job.job_id}/deploy/").status_code == 201


def test_a_failed_check_trips_the_breaker_and_deploy_is_409_until_a_moderator_approves(make_user, api_for, completed_job):
    owner, moderator = make_user("ada"), make_user("mo", moderator=True)
    job = completed_job(owner, {"calibration": check(False, detail="ECE 0.3"), "fairness": check(True)})
    report = job.safety_report
    assert report.breaker_state == "tripped" and report.failed_checks == ["calibration"] and "ECE 0.3" in report.reason

    api = api_for(owner)
    refused = api.post(f"/api/v1/distillations/{job.job_id}/deploy/")
    assert refused.status_code == 409
    assert "moderator" in refused.json()["error"]["message"] and refused.json()["error"]["code"] == "conflict"

    services.safety_report_decide(report=report, moderator=moderator, approve=True, reason="checked by hand")
    assert api.post(f"/api/v1/distillations/{job.job_id}/deploy/").status_code == 201
    action = ModerationAction.objects.get()
    assert (action.action, action.moderator, action.job, action.reason) == ("approve", moderator, job, "checked by hand")


def test_a_rejected_job_stays_undeployable(make_user, api_for, completed_job):
    owner, moderator = make_user("ada"), make_user("mo", moderator=True)
    job = completed_job(owner, {"robustness": check(False)})
    services.safety_report_decide(report=job.safety_report, moderator=moderator, approve=False, reason="brittle")
    response = api_for(owner).post(f"/api/v1/distillations/{job.job_id}/deploy/")
    assert response.status_code == 409 and "rejected" in response.json()["error"]["message"]


def test_only_a_moderator_decides_and_always_with_a_reason(make_user, completed_job):
    owner, staff, moderator = make_user("ada"), make_user("sam", staff=True), make_user("mo", moderator=True)
    report = completed_job(owner, {"robustness": check(False)}).safety_report
    with pytest.raises(services.NotModerator):
        services.safety_report_decide(report=report, moderator=staff, approve=True, reason="fine")
    with pytest.raises(services.SafetyError, match="reason"):
        services.safety_report_decide(report=report, moderator=moderator, approve=True, reason="  ")
    report.refresh_from_db()
    assert report.breaker_state == "tripped" and not ModerationAction.objects.exists()


def test_a_breaker_trip_during_training_is_recorded_when_the_job_fails(make_user, completed_job, settings):
    import json

    from distillation.selectors import job_out_dir
    from distillation.services import distillation_job_create, job_fail, job_lease_acquire
    from prsm.request import DistillationRequest

    from .conftest import REQUEST

    owner = make_user("ada")
    job = distillation_job_create(owner=owner, request=DistillationRequest.model_validate(REQUEST))
    job, token = job_lease_acquire(job_id=job.job_id)
    folder = job_out_dir(job)
    folder.mkdir(parents=True, exist_ok=True)
    trip = check(False, phase="during", detail="the training loss became nan at step 4") | {"reason": "nan_or_inf_loss"}
    (folder / "safety-trip.json").write_text(json.dumps({"check": trip, "checks": {"circuit_breaker": trip}}))
    job_fail(job=job, token=token, message="circuit breaker tripped", platform_fault=False, used_seconds=1)
    report = SafetyReport.objects.get(job=job)
    assert report.breaker_state == "tripped" and "nan at step 4" in report.reason
