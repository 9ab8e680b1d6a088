"""``model.predict`` and ``prsm predict`` against a live server: a job distilled by a real worker,
deployed, served by the serving pool, and answered over HTTP with the same probabilities as the
downloaded export gives here; refusals arrive as SdkError with their status."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from accounts.services import api_token_create, user_create
from prsm.distillation import DistillationOrchestrator, DistillationRequest
from prsm.sdk import SdkError


ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def digits_rows(count: int) -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().data[:count].astype(np.float32)


def distil_and_deploy(base_url: str, key: str):
    async def run():
        orchestrator = DistillationOrchestrator(base_url=base_url, token=key)
        request = DistillationRequest(teacher_model="catalog:digits-mlp", domain="digits", quality_threshold=0.5,
                                      epochs=8, optimization_target="accuracy", export_formats=["onnx"])
        job = await orchestrator.create_distillation(request)
        status = await orchestrator.wait(job.job_id, timeout=280)
        assert status.status == "completed", status.error
        return orchestrator, await orchestrator.deploy_model(job.job_id)

    return asyncio.run(run())


def served_here(base_url: str, key: str, job_id: str, folder: Path, rows: np.ndarray) -> list[dict]:
    """The job's ONNX export downloaded and run through the same ServedModel the pool runs."""
    from prsm.serving.model import ServedModel

    request = urllib.request.Request(f"{base_url}/api/v1/distillations/{job_id}/artifacts/onnx/download/",
                                     headers={"Authorization": f"Token {key}"})
    with urllib.request.urlopen(request, timeout=60) as response:  # nosec B310 - the test's own server
        (folder / "model.onnx").write_bytes(response.read())
    return ServedModel.load(folder / "model.onnx").predict([row.tolist() for row in rows])


def test_a_deployed_model_predicts_over_http(catalog_home, live_daphne, start_worker, serving_pool, tmp_path):
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    _, key = api_token_create(user=user, name="sdk")
    start_worker()
    serving_pool()
    orchestrator, model = distil_and_deploy(live_daphne, key)
    rows = digits_rows(4)

    outputs = asyncio.run(model.predict([row.tolist() for row in rows]))

    expected = served_here(live_daphne, key, model.job_id, tmp_path, rows)
    assert [o["label"] for o in outputs] == [e["label"] for e in expected]
    for got, want in zip(outputs, expected):
        assert sum(got["probabilities"].values()) == pytest.approx(1, abs=1e-6)
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-5)
    assert model.version

    with pytest.raises(SdkError) as refused:
        asyncio.run(model.predict([[1.0, 2.0]]))
    assert refused.value.status == 400 and "64" in str(refused.value)

    again = asyncio.run(orchestrator.get_model(model.model_id))
    assert asyncio.run(again.predict([rows[0].tolist()]))[0]["label"] == outputs[0]["label"]


def test_the_command_line_predicts_with_a_model_id(catalog_home, live_daphne, start_worker, serving_pool,
                                                    subprocess_env):
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    _, key = api_token_create(user=user, name="cli")
    start_worker()
    serving_pool()
    _, model = distil_and_deploy(live_daphne, key)
    row = ",".join(f"{v:g}" for v in digits_rows(1)[0])
    env = {**subprocess_env, "PRSM_URL": live_daphne, "PRSM_TOKEN": key}

    result = subprocess.run([sys.executable, "-m", "prsm.cli", "predict", "--model", model.model_id, row, "--json"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["model"] == model.model_id and len(answer["outputs"]) == 1

    bad = subprocess.run([sys.executable, "-m", "prsm.cli", "predict", "--model", model.model_id, "1,2,3"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "HTTP 400" in bad.stderr and bad.stderr.strip().count("\n") == 0


def test_a_predict_only_token_predicts_but_cannot_undeploy(catalog_home, live_daphne, start_worker, serving_pool):
    owner = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    _, key = api_token_create(user=owner, name="sdk")
    _, predict_key = api_token_create(user=owner, name="app", scopes=["predict"])
    start_worker()
    serving_pool()
    _, model = distil_and_deploy(live_daphne, key)
    app = DistillationOrchestrator(base_url=live_daphne, token=predict_key)

    assert len(asyncio.run(asyncio.run(app.get_model(model.model_id)).predict([digits_rows(1)[0].tolist()]))) == 1
    with pytest.raises(SdkError) as refused:
        asyncio.run(app.undeploy_model(model.model_id))
    assert refused.value.status == 403 and refused.value.code == "missing_scope"


def test_strangers_and_undeployed_models_are_refused(catalog_home, live_daphne, start_worker, serving_pool):
    owner = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    stranger = user_create(username="bob", password="correct horse battery", email="bob@example.com")
    _, key = api_token_create(user=owner, name="sdk")
    _, stranger_key = api_token_create(user=stranger, name="sdk")
    start_worker()
    serving_pool()
    orchestrator, model = distil_and_deploy(live_daphne, key)
    row = [digits_rows(1)[0].tolist()]

    outsider = DistillationOrchestrator(base_url=live_daphne, token=stranger_key)
    with pytest.raises(SdkError) as refused:
        asyncio.run(asyncio.run(outsider.get_model(model.model_id)).predict(row))
    assert refused.value.status in (403, 404)

    asyncio.run(orchestrator.undeploy_model(model.model_id))
    with pytest.raises(SdkError) as refused:
        asyncio.run(model.predict(row))
    assert refused.value.status in (404, 409)
