"""GET /api/v1/safety/reports/{job_id}/: the owner and staff see it; anyone else gets a 404."""

import uuid

from .conftest import check


def test_the_owner_sees_the_checks_and_the_breaker_state(make_user, api_for, completed_job):
    owner = make_user("ada")
    job = completed_job(owner, {"calibration": check(False, detail="ECE 0.3") | {"teacher_ece": 0.02}})
    response = api_for(owner).get(f"/api/v1/safety/reports/{job.job_id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["breaker_state"] == "tripped" and body["deploy_allowed"] is False
    assert body["failed_checks"] == ["calibration"]
    assert body["checks"]["calibration"] | {} == check(False, detail="ECE 0.3") | {"teacher_ece": 0.02}


def test_staff_see_it_and_other_users_get_a_404(make_user, api_for, completed_job):
    owner = make_user("ada")
    job = completed_job(owner, {"calibration": check(True)})
    assert api_for(make_user("sam", staff=True)).get(f"/api/v1/safety/reports/{job.job_id}/").status_code == 200
    eve = api_for(make_user("eve")).get(f"/api/v1/safety/reports/{job.job_id}/")
    assert eve.status_code == 404 and eve.json()["error"]["code"] == "not_found"
    assert api_for(owner).get(f"/api/v1/safety/reports/{uuid.uuid4()}/").status_code == 404


def test_it_needs_authentication(client, make_user, completed_job):
    job = completed_job(make_user("ada"), {"calibration": check(True)})
    assert client.get(f"/api/v1/safety/reports/{job.job_id}/").status_code in (401, 403)
