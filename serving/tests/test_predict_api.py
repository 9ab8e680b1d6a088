"""POST /api/v1/models/{model_id}/predict/ through the real serving pool (its own processes), on a real
distilled digits model: answers equal the export's own outputs, bad inputs get a 4xx naming the problem,
only the owner, buyers and current renters may call, every call is metered, and undeploy stops it."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest

from core import clock
from ledger.amounts import UNITS_PER_FTNS
from marketplace import services as marketplace
from serving.models import Prediction

pytestmark = pytest.mark.django_db(transaction=True)


def _deployed(served_job, owner, **request):
    job = served_job(owner, **request)
    return job, marketplace.job_deploy_and_list(job=job)


def _predict(api, deployment, inputs, **extra):
    return api.post(f"/api/v1/models/{deployment.model_id}/predict/", {"inputs": inputs}, format="json", **extra)


def _rows(count=3):
    from prsm.engine.data.builtin import load_builtin

    data = load_builtin("digits")
    return data, data.features[:count]


def test_the_owner_gets_the_exports_own_answers_and_each_call_is_metered(served_job, make_user, api_for, serving_pool,
                                                                       digits_export):
    serving_pool()
    owner = make_user("ada")
    job, deployment = _deployed(served_job, owner)
    data, rows = _rows(3)

    response = _predict(api_for(owner), deployment, rows.tolist())

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model_id"] == str(deployment.model_id)
    assert body["version"].startswith(deployment.serving_artifact.format + ":")
    import onnxruntime as ort

    report, folder = digits_export
    session = ort.InferenceSession(str(folder / report["exports"][deployment.serving_artifact.format]["path"]),
                                   providers=["CPUExecutionProvider"])
    logits = session.run(None, {"x": rows.astype(np.float32)})[0]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    labels = json.loads(session.get_modelmeta().custom_metadata_map["labels"])
    assert [o["label"] for o in body["outputs"]] == [labels[i] for i in logits.argmax(1)]
    for output, probabilities in zip(body["outputs"], expected):
        assert sum(output["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        assert [output["probabilities"][label] for label in labels] == pytest.approx(probabilities.tolist(), abs=1e-5)
    call = Prediction.objects.get()
    assert (call.caller, call.deployment, call.inputs, call.access, call.price_per_1k) == (owner, deployment, 3, "owner", 0)


def test_bad_inputs_get_a_4xx_that_names_the_problem(served_job, make_user, api_for, serving_pool, settings):
    serving_pool()
    owner = make_user("ada")
    _, deployment = _deployed(served_job, owner)
    api = api_for(owner)
    _, rows = _rows(1)
    features = rows.shape[1]

    cases = {
        "wrong feature count": (_predict(api, deployment, [[1.0, 2.0]]), 400, str(features)),
        "text to a tabular model": (_predict(api, deployment, ["a great film"]), 400, "input 0"),
        "not a list": (api.post(f"/api/v1/models/{deployment.model_id}/predict/", {"inputs": "x"}, format="json"), 400, "list"),
        "empty": (_predict(api, deployment, []), 400, "inputs"),
        "too many": (_predict(api, deployment, [rows[0].tolist()] * (settings.PREDICT_MAX_INPUTS + 1)), 400,
                     str(settings.PREDICT_MAX_INPUTS)),
        "not a number": (_predict(api, deployment, [["x"] * features]), 400, "input 0"),
    }
    for name, (response, status, named) in cases.items():
        assert response.status_code == status, (name, response.content)
        assert named in json.dumps(response.json()["error"]), (name, response.json())
    settings.PREDICT_MAX_BODY_BYTES = 1000
    big = _predict(api, deployment, [rows[0].tolist()] * 20)
    assert big.status_code == 413 and "1,000" in big.json()["error"]["message"]
    assert _predict(api, deployment, rows.tolist()).status_code == 200  # the server is still there
    assert Prediction.objects.count() == 1  # refusals are not metered


def test_image_files_go_to_the_images_route_and_each_route_reads_one_body_kind(served_job, make_user, api_for,
                                                                               serving_pool):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    serving_pool()
    owner = make_user("ada")
    _, deployment = _deployed(served_job, owner)
    api = api_for(owner)
    picture = io.BytesIO()
    Image.new("L", (8, 8), 128).save(picture, format="PNG")
    base = f"/api/v1/models/{deployment.model_id}"

    def png():
        return SimpleUploadedFile("seven.png", picture.getvalue(), "image/png")

    files = api.post(f"{base}/predict/images/", {"inputs": [png(), png()]}, format="multipart")
    assert files.status_code == 400 and "input 0" in files.json()["error"]["message"]  # reached the digits model, which reads features
    assert api.post(f"{base}/predict/images/", {"other": png()}, format="multipart").json()["error"]["field"] == "inputs"
    assert api.post(f"{base}/predict/", {"inputs": [png()]}, format="multipart").status_code == 415
    assert api.post(f"{base}/predict/images/", {"inputs": ["a"]}, format="json").status_code == 415
    assert not Prediction.objects.exists()
    _, rows = _rows(1)
    assert _predict(api, deployment, rows.tolist()).status_code == 200


def test_who_may_call(served_job, make_user, api_for, serving_pool):
    serving_pool()
    owner, buyer, renter, stranger = (make_user(name) for name in ("ada", "bob", "cy", "dan"))
    job, deployment = _deployed(served_job, owner)
    _, rows = _rows(1)
    assert _predict(api_for(stranger), deployment, rows.tolist()).status_code == 404  # not listed: not there

    listing = marketplace.listing_create(owner=owner, deployment=deployment, title="digits", price_buy=5 * UNITS_PER_FTNS,
                                        price_rent=UNITS_PER_FTNS, price_per_1k_predictions=2 * UNITS_PER_FTNS)
    refused = _predict(api_for(stranger), deployment, rows.tolist())
    assert refused.status_code == 403 and "buyers and renters" in refused.json()["error"]["message"]
    marketplace.listing_purchase(listing=listing, buyer=buyer, kind="buy", expected_price=listing.price_buy)
    marketplace.listing_purchase(listing=listing, buyer=renter, kind="rent", expected_price=listing.price_rent,
                                 expected_period_days=listing.rent_period_days)

    assert _predict(api_for(buyer), deployment, rows.tolist() * 2).status_code == 200
    assert _predict(api_for(renter), deployment, rows.tolist()).status_code == 200
    metered = {(p.caller.username, p.access, p.inputs, p.price_per_1k) for p in Prediction.objects.all()}
    assert metered == {("bob", "buyer", 2, 2 * UNITS_PER_FTNS), ("cy", "renter", 1, 2 * UNITS_PER_FTNS)}

    clock.clock_advance(seconds=timedelta(days=listing.rent_period_days, seconds=1).total_seconds())
    try:
        assert _predict(api_for(renter), deployment, rows.tolist()).status_code == 403  # the rent has ended
        assert _predict(api_for(buyer), deployment, rows.tolist()).status_code == 200
    finally:
        clock.clock_reset()


def test_undeploy_stops_answers_and_deploying_again_serves_it(served_job, make_user, api_for, serving_pool):
    serving_pool()
    owner = make_user("ada")
    job, deployment = _deployed(served_job, owner)
    api = api_for(owner)
    _, rows = _rows(1)
    assert _predict(api, deployment, rows.tolist()).status_code == 200

    undeployed = api.delete(f"/api/v1/models/{deployment.model_id}/")
    assert undeployed.status_code == 200 and undeployed.json()["live"] is False
    stopped = _predict(api, deployment, rows.tolist())
    assert stopped.status_code == 409 and stopped.json()["error"]["code"] == "undeployed"
    assert api.get("/api/v1/models/").json()[0]["live"] is False

    again = api.post(f"/api/v1/distillations/{job.job_id}/deploy/", {}, format="json")
    assert again.status_code in (200, 201) and again.json()["model_id"] == str(deployment.model_id)
    assert _predict(api, deployment, rows.tolist()).status_code == 200
    assert api.get("/api/v1/models/").json()[0]["live"] is True


def test_a_pool_that_is_down_is_a_503(served_job, make_user, api_for):
    owner = make_user("ada")
    _, deployment = _deployed(served_job, owner)
    _, rows = _rows(1)
    response = _predict(api_for(owner), deployment, rows.tolist())
    assert response.status_code == 503 and response.json()["error"]["code"] == "serving_unavailable"


def test_speed_serves_the_int8_export_and_accuracy_the_float_one(served_job, make_user):
    owner = make_user("ada")
    _, fast = _deployed(served_job, owner, optimization_target="speed")
    _, exact = _deployed(served_job, owner, optimization_target="accuracy")
    assert fast.serving_artifact.format == "onnx-int8" and fast.serving_artifact.verified
    assert exact.serving_artifact.format == "onnx"


def test_deploy_measures_the_requests_limits_on_the_serving_path(served_job, make_user, api_for):
    owner = make_user("ada")
    api = api_for(owner)
    strict = served_job(owner, max_inference_latency=0.0001)
    refused = api.post(f"/api/v1/distillations/{strict.job_id}/deploy/", {}, format="json")
    assert refused.status_code == 409, refused.content
    body = refused.json()
    assert body["error"]["code"] == "serving_limits" and "max_inference_latency" in body["error"]["message"]
    assert body["measured"]["latency_ms_p95"] > 0.0001 and body["measured"]["memory_bytes"] > 0
    from distillation.models import DeployedModel

    assert not DeployedModel.objects.filter(job=strict).exists()

    small = served_job(owner, max_memory_usage=1000)
    refused = api.post(f"/api/v1/distillations/{small.job_id}/deploy/", {}, format="json")
    assert refused.status_code == 409 and "max_memory_usage" in refused.json()["error"]["message"]

    roomy = served_job(owner, max_inference_latency=5000, max_memory_usage="2GB")
    deployed = api.post(f"/api/v1/distillations/{roomy.job_id}/deploy/", {}, format="json")
    assert deployed.status_code == 201, deployed.content
    measured = DeployedModel.objects.get(job=roomy).measured
    assert 0 < measured["latency_ms_p50"] <= measured["latency_ms_p95"] < 5000 and measured["memory_bytes"] > 0


def test_deploy_warms_the_model_in_its_serving_process_and_records_the_serving_figures(
        served_job, make_user, api_for, serving_pool, start_worker, settings):
    from distillation.models import DeployedModel
    from prsm.serving.client import ServingClient
    from serving.services import model_key
    from tests.fixtures import wait_for

    serving_pool()
    start_worker(queues=("default",))
    owner = make_user("ada")
    job = served_job(owner)

    response = api_for(owner).post(f"/api/v1/distillations/{job.job_id}/deploy/", {}, format="json")

    assert response.status_code == 201, response.content
    deployment = DeployedModel.objects.get(job=job)
    wait_for(lambda: DeployedModel.objects.get(pk=deployment.pk).measured, 120, "the worker to warm and measure the model")
    measured = DeployedModel.objects.get(pk=deployment.pk).measured
    assert 0 < measured["latency_ms_p50"] <= measured["latency_ms_p95"] and measured["memory_bytes"] > 0
    loaded = [model["key"] for model in ServingClient(settings.SERVING_SOCKET_DIR).status()["models"]]
    assert model_key(deployment) in loaded
