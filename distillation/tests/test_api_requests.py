"""The distillations API: validation by field, the budget, visibility, cancel."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.services import user_create
from ledger.models import Hold
from ledger.selectors import wallet_balance

pytestmark = pytest.mark.django_db

GOOD = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 1000, "epochs": 2}


def _api_for(username: str) -> tuple[APIClient, object]:
    user = user_create(username=username, password="correct horse battery", email=f"{username}@example.com")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api, user


@pytest.fixture
def ada(catalog_home):
    return _api_for("ada")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quality_threshold": 1.2}, "quality_threshold"),
        ({"max_inference_latency": "fast"}, "max_inference_latency"),
        ({"max_memory_usage": "lots"}, "max_memory_usage"),
        ({"teacher_model": "catalog:no-such-teacher"}, "teacher_model"),
        ({"dataset": "builtin:imagenet"}, "dataset"),
        ({"dataset": "/etc/passwd"}, "dataset"),
        ({"teacher_model": "/srv/models/secret"}, "teacher_model"),
        ({"target_size": "tiny"}, "target_size"),
        ({"frobnicate": True}, "frobnicate"),
        ({"teacher_models": [{"model": "catalog:digits-mlp", "weight": 0.7}]}, "teacher_models"),
        ({"backend": "transformers"}, "backend"),  # a text backend for a tabular teacher
        ({"backend": "pytorch", "target_hardware": ["mobile"], "export_formats": ["tflite"]}, "backend"),
        ({"target_hardware": ["cpu", "tpu"]}, "target_hardware"),
    ],
)
def test_every_invalid_field_is_a_400_naming_it(ada, change, field):
    api, _ = ada
    body = {**GOOD, **change}
    if "teacher_models" in change:
        body.pop("teacher_model")

    response = api.post("/api/v1/distillations/", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field


def test_a_job_over_its_budget_is_refused_with_the_estimate_and_holds_nothing(ada):
    api, user = ada
    before = wallet_balance(user=user)

    response = api.post("/api/v1/distillations/", {**GOOD, "budget_ftns": 50}, format="json")

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "budget_ftns"
    assert response.json()["estimate"]["cost_units"] > 50_000_000
    assert wallet_balance(user=user) == before
    assert not Hold.objects.exists()


def test_the_estimate_creates_nothing_and_names_the_backend(ada):
    api, user = ada

    response = api.post("/api/v1/distillations/estimate/", GOOD, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["backend"] == "pytorch" and body["within_budget"] is True
    assert body["cost_units"] == sum(v if isinstance(v, int) else sum(v) for v in body["breakdown_units"].values())
    assert not user.distillation_jobs.exists()


def test_a_mobile_target_is_estimated_on_the_tensorflow_backend_for_features_and_for_text(ada):
    api, _ = ada

    body = api.post("/api/v1/distillations/estimate/", {**GOOD, "target_hardware": ["cpu", "mobile"]}, format="json").json()
    assert body["backend"] == "tensorflow" and "mobile" in body["backend_reason"], body

    text = {**GOOD, "teacher_model": "catalog:sentiment-minilm", "domain": "sentiment", "target_hardware": "mobile"}
    body = api.post("/api/v1/distillations/estimate/", text, format="json").json()
    assert body["backend"] == "tensorflow" and "embedding-bag student in Keras" in body["backend_reason"], body

    refused = api.post("/api/v1/distillations/estimate/", {**text, "backend": "transformers"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "backend", refused.content


def test_creating_a_job_holds_its_estimate_and_cancelling_it_while_queued_releases_it(ada):
    api, user = ada
    before = wallet_balance(user=user)

    created = api.post("/api/v1/distillations/", GOOD, format="json").json()
    hold = Hold.objects.get(reference=f"job:{created['job_id']}")
    assert wallet_balance(user=user) == before - hold.amount
    assert created["status"] == "queued" and created["queue_position"] == 1

    cancelled = api.post(f"/api/v1/distillations/{created['job_id']}/cancel/")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert wallet_balance(user=user) == before
    assert api.post(f"/api/v1/distillations/{created['job_id']}/cancel/").status_code == 409


def test_another_user_cannot_see_cancel_deploy_or_download_a_job(ada):
    api, _ = ada
    job_id = api.post("/api/v1/distillations/", GOOD, format="json").json()["job_id"]
    eve, _ = _api_for("eve")

    assert eve.get(f"/api/v1/distillations/{job_id}/").status_code == 404
    assert eve.post(f"/api/v1/distillations/{job_id}/cancel/").status_code == 404
    assert eve.post(f"/api/v1/distillations/{job_id}/deploy/").status_code == 404
    assert eve.get(f"/api/v1/distillations/{job_id}/artifacts/").status_code == 404
    assert eve.get(f"/api/v1/distillations/{job_id}/artifacts/onnx/download/").status_code == 404
    assert eve.get("/api/v1/distillations/").json() == []


def test_a_job_that_is_not_completed_cannot_be_deployed(ada):
    api, _ = ada
    job_id = api.post("/api/v1/distillations/", GOOD, format="json").json()["job_id"]

    response = api.post(f"/api/v1/distillations/{job_id}/deploy/")

    assert response.status_code == 409
    assert "completed" in response.json()["error"]["message"]


def test_the_estimate_uses_the_teacher_speed_a_finished_job_measured(ada):
    api, user = ada
    before = api.post("/api/v1/distillations/estimate/", GOOD, format="json").json()
    assert before["teacher_speed"].startswith("approximated")
    from distillation.models import DistillationJob

    DistillationJob.objects.create(
        owner=user, request={}, engine_config={"teacher": "catalog:digits-mlp"}, backend="pytorch", backend_reason="-",
        cost_estimate_ftns=1, status=DistillationJob.Status.COMPLETED, report={"teacher": {"latency_ms_p50": 40.0}},
    )

    after = api.post("/api/v1/distillations/estimate/", GOOD, format="json").json()

    assert after["teacher_speed"].startswith("measured")
    # 1,797 rows at 40 ms, plus the student's 2 epochs at a tenth of that, 3 passes a step (and the
    # quick search's trials, that many more), plus 30 s
    from distillation.planning import search_cost_factor

    student_s = 1797 * 2 * 3 * 0.004
    expected_hours = (1797 * 0.04 + student_s * (1 + search_cost_factor("quick", 2)) + 30) / 3600
    assert after["compute_hours"] == pytest.approx(expected_hours, rel=1e-3)
    assert after["cost_units"] > before["cost_units"]


def test_a_completed_job_under_its_quality_threshold_is_not_deployed(ada):
    api, user = ada
    from distillation.models import Artifact, DistillationJob

    job = DistillationJob.objects.create(
        owner=user, request={"quality_threshold": 0.85}, engine_config={}, backend="pytorch", backend_reason="-",
        cost_estimate_ftns=1, status=DistillationJob.Status.COMPLETED, report={"retention": 0.80, "checks": {}},
    )
    Artifact.objects.create(job=job, format="onnx", path="x.onnx", sha256="0" * 64, size_bytes=1, verified=True)

    response = api.post(f"/api/v1/distillations/{job.job_id}/deploy/")

    assert response.status_code == 409
    assert response.json()["error"]["field"] == "quality_threshold"

    DistillationJob.objects.filter(pk=job.pk).update(report={"retention": 0.90, "checks": {}})
    deployed = api.post(f"/api/v1/distillations/{job.job_id}/deploy/")
    assert deployed.status_code == 201, deployed.content
    assert deployed.json()["export_format"] == "onnx"


def test_augmentation_is_priced_as_the_teacher_running_every_epoch(ada):
    api, _ = ada
    plain = api.post("/api/v1/distillations/estimate/", {**GOOD, "epochs": 5}, format="json").json()
    augmented = api.post("/api/v1/distillations/estimate/", {**GOOD, "epochs": 5, "augmentation_techniques": ["noise"]},
                         format="json").json()

    assert augmented["compute_hours"] > plain["compute_hours"]
    assert augmented["cost_units"] > plain["cost_units"]

