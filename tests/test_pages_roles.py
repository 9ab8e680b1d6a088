"""Every page for every role: a visitor is sent to log in, and one person's job, its data and its
actions are a 404 to another (the same answer as for a job that does not exist)."""

import uuid

import pytest

from accounts.services import user_create
from distillation.models import DistillationJob

pytestmark = pytest.mark.django_db

SIGNED_IN_PAGES = ["/distill/", "/distill/teacher/", "/distill/data/", "/distill/goal/", "/distill/budget/",
                   "/distill/review/", "/jobs/", "/models/", "/account/", "/ledger/"]
JOB_PAGES = ["/jobs/{id}/", "/jobs/{id}/metrics.json", "/jobs/{id}/comparison.json", "/jobs/{id}/search.json",
             "/distill/?from={id}"]
JOB_ACTIONS = ["/jobs/{id}/cancel/", "/marketplace/jobs/{id}/deploy/", "/marketplace/jobs/{id}/list/"]


@pytest.fixture
def job():
    owner = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    return DistillationJob.objects.create(
        owner=owner, request={"teacher_model": "catalog:digits-mlp"}, engine_config={}, backend="pytorch",
        backend_reason="a zoo teacher", cost_estimate_ftns=181, estimate={"teacher": "catalog:digits-mlp"},
        status=DistillationJob.Status.COMPLETED, progress=100, report={"retention": 0.95})


@pytest.mark.parametrize("path", SIGNED_IN_PAGES + JOB_PAGES + JOB_ACTIONS)
def test_a_visitor_is_sent_to_log_in(client, job, path):
    url = path.format(id=job.job_id)
    response = client.post(url) if path in JOB_ACTIONS else client.get(url)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", JOB_PAGES + JOB_ACTIONS)
def test_another_persons_job_is_a_404_like_a_job_that_does_not_exist(client, job, path):
    client.force_login(user_create(username="eve", password="correct horse battery", email="eve@example.com"))

    for job_id in (job.job_id, uuid.uuid4()):
        url = path.format(id=job_id)
        response = client.post(url) if path in JOB_ACTIONS else client.get(url)
        assert response.status_code == 404, (url, response.status_code)
    job.refresh_from_db()
    assert job.status == "completed" and not hasattr(job, "deployment")


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_a_signed_in_person_reaches_every_page(client, job, path):
    client.force_login(job.owner)

    response = client.get(path, follow=True)

    assert response.status_code == 200, path
