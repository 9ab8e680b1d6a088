import pytest

from accounts.services import user_create
from distillation.models import DistillationJob

pytestmark = pytest.mark.django_db


def _user(name):
    return user_create(username=name, password="correct horse battery", email=f"{name}@example.com")


@pytest.fixture
def job():
    return DistillationJob.objects.create(
        owner=_user("ada"), request={}, engine_config={}, backend="pytorch", backend_reason="a zoo teacher",
        cost_estimate_ftns=181, estimate={"teacher": "catalog:digits-mlp", "dataset": "builtin:digits"},
        status=DistillationJob.Status.COMPLETED, progress=100,
        report={"retention": 0.9456, "compression_ratio": 46.3, "speedup": 1.9},
    )


def test_the_owner_watches_a_job_in_the_browser(client, job):
    client.force_login(job.owner)

    page = client.get(f"/jobs/{job.job_id}/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "catalog:digits-mlp" in body and "94.6" in body and "46.3" in body
    assert f"/ws/distillations/" in body
    assert str(job.job_id) in client.get("/jobs/").content.decode()


def test_another_user_gets_a_404_and_anonymous_users_are_sent_to_log_in(client, job):
    client.force_login(_user("eve"))
    assert client.get(f"/jobs/{job.job_id}/").status_code == 404
    assert str(job.job_id) not in client.get("/jobs/").content.decode()

    client.logout()
    response = client.get(f"/jobs/{job.job_id}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
