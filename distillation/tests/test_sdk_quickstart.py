"""examples/quickstart.py runs as written, in-process and against a server."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from accounts.services import user_create

ROOT = Path(__file__).resolve().parents[2]
FAST = {"PRSM_QUICKSTART_TEACHER": "catalog:digits-mlp", "PRSM_QUICKSTART_THRESHOLD": "0.5", "PRSM_QUICKSTART_EPOCHS": "8"}  # a 2-epoch student fails calibration

pytestmark = pytest.mark.slow


def _quickstart(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "examples/quickstart.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_quickstart_runs_in_process(catalog_home, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PRSM_URL", "PRSM_TOKEN")}
    result = _quickstart({**env, **FAST, "PRSM_HOME": str(catalog_home)})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "(in-process)" in result.stdout
    assert "completed 100.0 completed" in result.stdout
    assert "\ndeployed " in result.stdout
    assert "  predicted " in result.stdout


@pytest.mark.django_db(transaction=True)
def test_the_quickstart_runs_against_a_server(catalog_home, live_daphne, start_worker, serving_pool, subprocess_env):
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    start_worker()
    serving_pool(workers=1)

    result = _quickstart({**subprocess_env, **FAST, "PRSM_URL": live_daphne, "PRSM_TOKEN": Token.objects.create(user=user).key})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "(remote)" in result.stdout
    assert "\ndeployed " in result.stdout
    assert "  predicted " in result.stdout
