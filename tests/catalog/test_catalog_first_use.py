"""A catalog teacher nobody built yet is built by the first job that names it: once, whoever else
asks at the same time (they wait and reuse it), and a build killed halfway leaves nothing a later
job would load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from prsm.engine.catalog import catalog_building, catalog_dir, catalog_ensure, catalog_list, read_card
from prsm.engine.pipeline import DistillConfig, run_distillation
from tests.engine.events import Recorder

ENSURE = """
import json, sys
from prsm.engine.catalog import catalog_ensure
calls = {"progress": 0, "waiting": 0}
def progress(stage, done, total): calls["progress"] += 1
def waiting(): calls["waiting"] += 1
catalog_ensure("digits-mlp", progress=progress, waiting=waiting)
print(json.dumps(calls))
"""


def _ensure_in_a_process(home) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", ENSURE], env={**os.environ, "PRSM_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_run_naming_an_unbuilt_catalog_teacher_builds_it_first_with_progress(prsm_home, tmp_path):
    assert read_card("digits-mlp") is None
    recorder = Recorder()

    report = run_distillation(DistillConfig(teacher="catalog:digits-mlp", epochs=1, exports=["safetensors"]),
                              tmp_path / "run", recorder)

    assert read_card("digits-mlp") is not None and not read_card("digits-mlp")["quick"]
    assert list(report["stages"])[0] == "build_teacher"
    building = [e for e in recorder.events if e["stage"] == "build_teacher" and e["type"] == "progress"]
    assert building and building[-1]["progress"] > building[0]["progress"]
    assert 0 < report["retention"]

    again = Recorder()
    second = run_distillation(DistillConfig(teacher="catalog:digits-mlp", epochs=1, exports=["safetensors"]),
                              tmp_path / "again", again)
    assert "build_teacher" not in second["stages"]  # built once, reused
    assert again.events[0]["progress"] == 0


def test_two_at_once_build_it_once_and_the_second_waits_and_reuses_it(prsm_home):
    first, second = _ensure_in_a_process(prsm_home), _ensure_in_a_process(prsm_home)
    results = []
    for process in (first, second):
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    builders = [calls for calls in results if calls["progress"]]
    waiters = [calls for calls in results if not calls["progress"]]
    assert len(builders) == 1, results
    # the other either waited for the lock, or (started later) found the build done
    assert len(waiters) == 1
    assert read_card("digits-mlp") is not None
    assert not catalog_building("digits-mlp")


def test_a_build_killed_halfway_is_rebuilt_cleanly_by_the_next_job(prsm_home):
    process = _ensure_in_a_process(prsm_home)
    deadline = time.monotonic() + 120
    while not list(catalog_dir().glob(".digits-mlp-build-*")):  # the build has begun in its temporary folder
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    assert catalog_building("digits-mlp")
    assert [row["status"] for row in catalog_list() if row["name"] == "digits-mlp"] == ["building"]
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert read_card("digits-mlp") is None and not catalog_building("digits-mlp")  # the lock died with it
    assert catalog_ensure("digits-mlp") == catalog_dir() / "digits-mlp"
    assert read_card("digits-mlp")["accuracy"] > 0.9
    assert not list(catalog_dir().glob(".digits-mlp-build-*"))  # the half-built folder is gone
