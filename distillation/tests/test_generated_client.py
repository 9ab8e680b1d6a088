"""A client generated from the served schema works (issue 22): openapi-python-client writes a Python
client from ``/api/schema/`` of a live server, every module of it imports, and, in a process of its
own, it signs up, gets a token, estimates, creates a job, follows it to the end (a real worker), lists
the artifacts and downloads one, whose bytes match the sha256 listed; a refusal arrives as the
declared error model."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from openapi_spec_validator import validate

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GENERATOR_CONFIG = "post_hooks: []\nproject_name_override: prsm-api-client\npackage_name_override: prsm_api_client\n"

FLOW = """
import hashlib, importlib, json, pkgutil, sys, time
import prsm_api_client.api
for module in pkgutil.walk_packages(prsm_api_client.api.__path__, "prsm_api_client.api."):
    importlib.import_module(module.name)  # every operation's module imports

from prsm_api_client import AuthenticatedClient, Client
from prsm_api_client.api.auth import auth_register, auth_token
from prsm_api_client.api.distillations import (distillations_artifact_download, distillations_artifacts,
                                               distillations_create, distillations_estimate, distillations_retrieve)
from prsm_api_client.models import DistillationRequest, RegisterInput, SearchEnum, TokenInput

anonymous = Client(base_url=URL, raise_on_unexpected_status=True)
signed_up = auth_register.sync(client=anonymous, body=RegisterInput(username="grace", password="a long passphrase here",
                                                                   email="grace@example.com"))
token = auth_token.sync(client=anonymous, body=TokenInput(username="grace", password="a long passphrase here"))
wrong = auth_token.sync(client=anonymous, body=TokenInput(username="grace", password="not the passphrase"))
client = AuthenticatedClient(base_url=URL, token=token.token, prefix="Token", raise_on_unexpected_status=True,
                             timeout=60)
request = DistillationRequest(teacher_model="catalog:digits-mlp", domain="digits", budget_ftns=1000, epochs=2,
                              search=SearchEnum.OFF, export_formats=["onnx"])
estimate = distillations_estimate.sync(client=client, body=request)
job = distillations_create.sync(client=client, body=request)
deadline = time.monotonic() + 240
status = distillations_retrieve.sync(client=client, job_id=job.job_id)
while status.status not in ("completed", "failed", "cancelled") and time.monotonic() < deadline:
    time.sleep(1)
    status = distillations_retrieve.sync(client=client, job_id=job.job_id)
artifacts = distillations_artifacts.sync(client=client, job_id=job.job_id)
onnx = next(a for a in artifacts if a.format_ == "onnx")
download = distillations_artifact_download.sync_detailed(client=client, job_id=job.job_id, export_format="onnx")
missing = distillations_retrieve.sync(client=client, job_id="00000000-0000-4000-8000-000000000000")
print(json.dumps({
    "signed_up": signed_up.user_id == token.user_id,
    "wrong_password": [type(wrong).__name__, wrong.error.code],
    "estimate_units": estimate.cost_units, "within_budget": estimate.within_budget, "backend": estimate.backend,
    "created": [job.status, str(job.job_id)], "final": [status.status, status.error],
    "artifacts": sorted(a.format_ for a in artifacts),
    "download": [download.status_code, hashlib.sha256(download.content).hexdigest() == onnx.sha256, onnx.verified],
    "missing": [type(missing).__name__, missing.error.code],
}))
"""


def test_a_generated_client_runs_the_flow_against_a_live_server(catalog_home, live_daphne, start_worker, tmp_path,
                                                               subprocess_env):
    with urllib.request.urlopen(f"{live_daphne}/api/schema/?format=json", timeout=60) as response:  # nosec B310 - the test's server
        served = json.loads(response.read())
    validate(served)
    (tmp_path / "schema.json").write_text(json.dumps(served))
    (tmp_path / "config.yaml").write_text(GENERATOR_CONFIG)
    generated = subprocess.run(
        [str(BIN / "openapi-python-client"), "generate", "--path", str(tmp_path / "schema.json"),
         "--config", str(tmp_path / "config.yaml"), "--output-path", str(tmp_path / "client")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert generated.returncode == 0, generated.stdout[-2000:] + generated.stderr[-2000:]
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout[-3000:]

    start_worker()
    env = {**subprocess_env, "PYTHONPATH": str(tmp_path / "client")}
    flow = subprocess.run([sys.executable, "-c", f"URL = {live_daphne!r}\n" + FLOW], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)
    assert flow.returncode == 0, flow.stderr[-4000:]
    out = json.loads(flow.stdout.strip().splitlines()[-1])

    assert out["signed_up"] and out["wrong_password"] == ["Error", "invalid_credentials"]
    assert out["estimate_units"] > 0 and out["within_budget"] and out["backend"] == "pytorch"
    assert out["created"][0] == "queued"
    assert out["final"] == ["completed", ""], out["final"]
    assert "onnx" in out["artifacts"]
    assert out["download"] == [200, True, True]
    assert out["missing"] == ["Error", "not_found"]
