"""The places that already tell a user something emit the same news as webhooks: a job that completes or
fails (not one its owner cancelled) and a sale, which tells the seller nothing of the buyer."""

import json

import pytest

from distillation.services import distillation_job_create, job_cancel, job_fail, job_lease_acquire
from marketplace.tests.buying import purchase
from prsm.request import DistillationRequest
from webhooks import services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def _subscribe(user, *events):
    return services.webhook_endpoint_create(user=user, url="http://127.0.0.1:9/hook", events=list(events))[0]


def _bodies(endpoint) -> list[dict]:
    return [json.loads(d.body) for d in WebhookDelivery.objects.filter(endpoint=endpoint).order_by("created_at", "id")]


def test_a_completed_job_emits_job_completed_with_its_results(make_user, completed_job, settings):
    settings.SITE_URL = "https://distill.example.com"
    owner = make_user("ada")
    endpoint = _subscribe(owner, "job.completed")

    job = completed_job(owner)

    [body] = _bodies(endpoint)
    assert body["type"] == "job.completed" and set(body) == {"id", "type", "created", "data"}
    data = body["data"]
    assert data["job_id"] == str(job.job_id) and data["status"] == "completed" and data["error"] is None
    assert data["page_url"] == f"https://distill.example.com/jobs/{job.job_id}/"
    assert data["api_url"] == f"https://distill.example.com/api/v1/distillations/{job.job_id}/"
    assert data["results"] == {"retention": 0.9, "compression_ratio": 8.0, "speedup": 3.5, "student_accuracy": 0.855,
                               "teacher_accuracy": 0.95, "student_latency_ms_p50": 2.0, "student_params": 1000,
                               "exports": ["onnx"]}
    assert data["teacher"] == "catalog:digits-mlp" and data["finished_at"]


def test_a_failed_job_emits_job_failed_with_the_reason_and_a_cancelled_one_nothing(make_user, catalog_home):
    owner = make_user("ada")
    endpoint = _subscribe(owner, "job.failed", "job.completed")
    request = DistillationRequest(teacher_model="catalog:digits-mlp", epochs=1)
    job = distillation_job_create(owner=owner, request=request)
    _, token = job_lease_acquire(job_id=job.job_id)

    assert job_fail(job=job, token=token, message="the teacher could not be loaded", platform_fault=True, used_seconds=0)
    job_cancel(job=distillation_job_create(owner=owner, request=request))

    [body] = _bodies(endpoint)
    assert body["type"] == "job.failed" and body["data"]["status"] == "failed"
    assert body["data"]["error"] == "the teacher could not be loaded" and body["data"]["results"] == {}
    assert body["data"]["page_url"] == f"/jobs/{job.job_id}/"  # no SITE_URL: a path


def test_a_sale_emits_model_sold_to_the_seller_without_the_buyer(make_user, api_for, listed):
    seller, buyer = make_user("ada"), make_user("bob")
    endpoint = _subscribe(seller, "model.sold")
    buyers_own = _subscribe(buyer, "model.sold", "job.completed")
    listing = listed(seller, buy=10, rent=2)

    assert purchase(api_for(buyer), listing, kind="rent").status_code == 201

    [body] = _bodies(endpoint)
    data = body["data"]
    assert body["type"] == "model.sold" and data["listing_id"] == str(listing.listing_id)
    assert (data["kind"], data["price"], data["price_units"], data["rent_period_days"]) == ("rent", "2.000000", 2_000_000, 30)
    assert data["job_id"] == str(listing.job.job_id) and data["expires_at"]
    assert "bob" not in json.dumps(body) and not {"buyer", "buyer_id", "username", "email"} & set(data)
    assert _bodies(buyers_own) == []
