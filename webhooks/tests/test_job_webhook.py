"""A job submitted through the API and trained by a real worker ends with a job.completed webhook
that the worker delivers to the owner's receiver, signed, with the job's results."""

import pytest
from rest_framework.authtoken.models import Token

from distillation.models import DistillationJob
from tests.fixtures import wait_for
from webhooks import services
from webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_job_that_completes_in_a_worker_sends_job_completed(catalog_home, make_user, client, receiver, start_worker):
    owner = make_user("ada")
    _, secret = services.webhook_endpoint_create(user=owner, url=receiver.url, events=["job.completed", "job.failed"])
    start_worker()

    response = client.post(
        "/api/v1/distillations/",
        {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 1000, "quality_threshold": 0.5,
         "epochs": 1, "export_formats": ["safetensors"]},
        content_type="application/json", HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}",
    )
    assert response.status_code == 201, response.content
    job_id = response.json()["job_id"]

    wait_for(lambda: DistillationJob.objects.get(job_id=job_id).is_finished, 180, "the worker to run the job", interval=0.5)
    assert DistillationJob.objects.get(job_id=job_id).status == "completed"
    wait_for(lambda: receiver.verified(secret), 30, "the webhook to arrive")

    [seen] = receiver.verified(secret)
    assert seen["json"]["type"] == "job.completed"
    data = seen["json"]["data"]
    assert data["job_id"] == job_id and data["status"] == "completed" and data["page_url"].endswith(f"/jobs/{job_id}/")
    assert 0 < data["results"]["retention"] and data["results"]["exports"] == ["safetensors"]
    assert WebhookDelivery.objects.get(delivery_id=seen["headers"]["PRSM-Webhook-Id"]).status == "succeeded"
