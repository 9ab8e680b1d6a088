"""A teacher ensemble through the API and a real worker: a catalog teacher with an uploaded ONNX
teacher of the same task, one teacher fee each (the uploaded teacher's to its owner), the report's
account of each teacher, and the model card's."""

import shutil

import pytest

from distillation.models import DistillationJob
from distillation.tasks import teacher_analyze
from distillation.uploads import upload_folder
from ledger.models import Account, Hold
from ledger.pricing import TEACHER_ACCESS_FEE
from tests.fixtures import wait_for

from .test_uploads_fixtures import api_for, onnx_teacher, upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_an_ensemble_job_is_estimated_charged_and_reported_per_teacher(catalog_home, start_worker, request):
    api, user = api_for("ada")
    # a linear ONNX classifier over the 64 digit pixels: a weak but real second teacher of the same task
    uploaded = upload(api, "/api/v1/teachers/", "digits-linear.onnx", onnx_teacher(features=64, classes=10))
    assert uploaded.status_code == 201, uploaded.content
    teacher_id = uploaded.json()["id"]
    request.addfinalizer(lambda: shutil.rmtree(upload_folder("teachers", teacher_id), ignore_errors=True))
    teacher_analyze(teacher_id)
    body = {"teacher_models": [{"model": "catalog:digits-mlp", "weight": 0.8}, {"model": teacher_id, "weight": 0.2}],
            "ensemble_teachers": True, "fusion_strategy": "confidence", "domain": "handwritten digits",
            "budget_ftns": 1000, "quality_threshold": 0.5, "epochs": 30, "search": "off",
            "export_formats": ["safetensors"]}

    estimate = api.post("/api/v1/distillations/estimate/", body, format="json")
    assert estimate.status_code == 200, estimate.content
    assert estimate.json()["breakdown_units"]["teacher_fees"] == [TEACHER_ACCESS_FEE, TEACHER_ACCESS_FEE]
    assert [t["ref"] for t in estimate.json()["teachers"]] == ["catalog:digits-mlp", teacher_id]

    start_worker()
    created = api.post("/api/v1/distillations/", body, format="json")
    assert created.status_code == 201, created.content
    job_id = created.json()["job_id"]
    job = DistillationJob.objects.get(job_id=job_id)
    assert job.engine_config["teacher"] == "catalog:digits-mlp"
    assert [m["weight"] for m in job.engine_config["ensemble"]["members"]] == [0.8, 0.2]
    assert job.engine_config["ensemble"]["members"][1]["teacher"].endswith(f"{teacher_id}/model.onnx")

    def finished():
        state = api.get(f"/api/v1/distillations/{job_id}/").json()
        return state if state["status"] in ("completed", "failed") else None

    state = wait_for(finished, 300, "the ensemble job to finish", interval=1)
    assert state["status"] == "completed", state.get("error")
    ensemble = state["report"]["teacher"]["ensemble"]
    assert ensemble["fusion"] == "confidence"
    assert [m["kind"] for m in ensemble["members"]] == ["zoo", "onnx"]
    assert ensemble["best_teacher"] == "catalog:digits-mlp"
    assert state["report"]["student"]["accuracy"] > 0.5
    assert state["costs"]["state"] == Hold.State.SETTLED
    assert DistillationJob.objects.get(job_id=job_id).estimate["teacher_owner_ids"] == [None, user.pk]
    # one teacher fee each: the catalog teacher's to the platform's pool, the uploaded one's to its owner
    hold = Hold.objects.get(reference__contains=job_id)
    legs: dict = {}
    for entry in hold.close_transaction.entries.select_related("account"):
        key = (entry.account.kind, entry.account.user_id)
        legs[key] = legs.get(key, 0) + entry.amount
    assert legs[(Account.Kind.CATALOG_TEACHERS, None)] == TEACHER_ACCESS_FEE
    # the uploaded teacher's fee reaches its owner (here the job's owner, whose signup grant paid it,
    # so as promotional credit: ledger.services.hold_settle), with what the hold released
    to_owner = legs.get((Account.Kind.WALLET, user.pk), 0) + legs.get((Account.Kind.PROMO, user.pk), 0)
    assert to_owner >= TEACHER_ACCESS_FEE
    platform_fees = sum(estimate.json()["breakdown_units"][k] for k in ("base", "validation"))
    assert legs[(Account.Kind.PLATFORM_REVENUE, None)] >= platform_fees  # no teacher fee went to the platform
