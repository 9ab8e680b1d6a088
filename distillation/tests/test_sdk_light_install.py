"""The light install (issue 22): the package alone depends on pydantic and websockets, and the remote
SDK and ``prsm predict`` work against a live server in a process where the platform's packages
(torch, Django, numpy, ...) cannot be imported, as in an environment that installed only those two."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from accounts.services import api_token_create, user_create

ROOT = Path(__file__).resolve().parents[2]
LIGHT = {"pydantic", "websockets"}
PLATFORM_PACKAGES = ("torch", "django", "numpy", "transformers", "onnx", "onnxruntime", "tensorflow", "keras", "sklearn",
                     "scipy", "PIL", "rest_framework", "channels", "dramatiq", "redis", "safetensors", "optuna")

pytestmark = pytest.mark.django_db(transaction=True)

# Runs in a child process: every platform package refused at import, then the SDK against the server.
LIGHT_CLIENT = """
import asyncio, importlib.abc, json, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (a light install)")

sys.meta_path.insert(0, NotInstalled())
from prsm.distillation import DistillationOrchestrator, DistillationRequest
from prsm.sdk import SdkError

async def main():
    orchestrator = DistillationOrchestrator(base_url=URL, token=KEY)
    request = DistillationRequest(teacher_model="catalog:digits-mlp", domain="digits", budget_ftns=1000, epochs=1)
    job = await orchestrator.create_distillation(request)
    status = await orchestrator.get_status(job.job_id)
    async for event in orchestrator.stream(job.job_id):  # the stored events, replayed over the websocket
        first = event
        break
    model = await orchestrator.get_model("00000000-0000-0000-0000-000000000000")  # no such model: the call says so
    try:
        await model.predict(["a fine film"])
        refused = None
    except SdkError as error:
        refused = error.status
    loaded = sorted({m.split(".")[0] for m in sys.modules} & set(BLOCKED))
    print(json.dumps({"job_id": job.job_id, "status": status.status, "first_event": first, "refused": refused,
                      "loaded": loaded}))

asyncio.run(main())
"""


def test_the_package_alone_depends_on_pydantic_and_websockets_and_the_platform_is_an_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {requirement.split("==")[0].split("[")[0] for requirement in project["dependencies"]}
    assert names == LIGHT
    platform = {requirement.split("==")[0].split("[")[0].lower() for requirement in project["optional-dependencies"]["platform"]}
    assert {"django", "torch", "dramatiq", "onnxruntime"} <= platform
    assert "'.[platform,test]'" in (ROOT / "scripts" / "install.sh").read_text()


def test_the_remote_sdk_and_prsm_predict_work_without_the_platforms_packages(catalog_home, live_daphne, subprocess_env):
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    _, key = api_token_create(user=user, name="light")
    script = f"URL = {live_daphne!r}\nKEY = {key!r}\nBLOCKED = {PLATFORM_PACKAGES!r}\n" + LIGHT_CLIENT
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=subprocess_env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == "queued" and out["first_event"]["stage"] == "queued"
    assert out["refused"] == 404 and out["loaded"] == []

    cli = ("import importlib.abc, sys\n"
           f"BLOCKED = {PLATFORM_PACKAGES!r}\n"
           "class NotInstalled(importlib.abc.MetaPathFinder):\n"
           "    def find_spec(self, name, path=None, target=None):\n"
           "        if name.split('.')[0] in BLOCKED:\n"
           "            raise ModuleNotFoundError(name)\n"
           "sys.meta_path.insert(0, NotInstalled())\n"
           "from prsm.cli import main\n"
           f"sys.argv = ['prsm', 'predict', '--model', '00000000-0000-0000-0000-000000000000', '--url', {live_daphne!r},"
           f" '--token', {key!r}, 'a fine film']\n"
           "sys.exit(main())\n")
    predicted = subprocess.run([sys.executable, "-c", cli], capture_output=True, text=True, timeout=120, cwd=ROOT,
                               env=subprocess_env)
    assert predicted.returncode != 0 and "404" in predicted.stderr + predicted.stdout, predicted.stderr[-2000:]
    assert "ModuleNotFoundError" not in predicted.stderr


@pytest.mark.slow
def test_a_fresh_virtual_environment_installs_the_light_sdk_and_runs_a_job(catalog_home, live_daphne, start_worker,
                                                                          tmp_path, subprocess_env):
    """``pip install`` of the project into a new venv (what a user of the remote SDK does): it gets the
    light dependencies and no platform package, and its SDK runs a job on a live server to the end."""
    source = tmp_path / "source"  # a copy: pip builds in the source tree, which must not gain a build/ folder
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "var", "media", "build", "dist", "node_modules",
                                                                "staticfiles", "*.egg-info", "__pycache__", "runs"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
                               capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-3000:]
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
                            capture_output=True, text=True, timeout=120, check=True)
    names = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert "prsm-distill" in names and not names & {"torch", "django", "numpy", "onnxruntime", "dramatiq"}, names

    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    _, key = api_token_create(user=user, name="light")
    start_worker()
    script = f"""
import asyncio, json, sys
from prsm.distillation import DistillationOrchestrator, DistillationRequest

async def main():
    orchestrator = DistillationOrchestrator(base_url={live_daphne!r}, token={key!r})
    request = DistillationRequest(teacher_model="catalog:digits-mlp", domain="digits", budget_ftns=1000, epochs=2,
                                  search="off", export_formats=["onnx"])
    job = await orchestrator.create_distillation(request)
    stages = [event.get("stage") async for event in orchestrator.stream(job.job_id)]
    status = await orchestrator.wait(job.job_id, timeout=240)
    print(json.dumps({{"status": status.status, "error": status.error, "stages": stages,
                      "from": orchestrator.__module__ and sys.modules["prsm"].__file__}}))

asyncio.run(main())
"""
    env = {name: value for name, value in subprocess_env.items() if name != "PYTHONPATH"}
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert (out["status"], out["error"]) == ("completed", ""), out
    assert out["from"].startswith(str(venv)), out["from"]  # the installed package, not the checkout
    assert out["stages"][0] == "queued" and "train" in out["stages"]
