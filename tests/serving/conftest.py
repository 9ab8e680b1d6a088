"""Real tiny exports to serve (digits features, 16x16 shapes, short reviews; one epoch each) and a
real serving pool started as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.conftest import (  # noqa: F401 - fixtures
    digits_csv,
    digits_teacher,
    reviews_csv,
    shapes_cnn_teacher,
    shapes_folder,
    tiny_bert_teacher,
)

ROOT = Path(__file__).resolve().parents[2]


def distil(out: Path, teacher: Path, data: Path, exports: list[str], **options) -> tuple[dict, Path]:
    from prsm.engine.pipeline import DistillConfig, run_distillation

    config = DistillConfig(teacher=str(teacher), data=str(data), epochs=1, exports=exports, **options)
    report = run_distillation(config, out)
    return report, out / report["exports"]["onnx"]["path"]


@pytest.fixture(scope="session")
def digits_export(tmp_path_factory, digits_teacher, digits_csv) -> Path:  # noqa: F811
    _, path = distil(tmp_path_factory.mktemp("serve-digits"), digits_teacher, digits_csv, ["onnx", "onnx-int8"])
    return path


@pytest.fixture(scope="session")
def image_export(tmp_path_factory, shapes_cnn_teacher, shapes_folder) -> Path:  # noqa: F811
    _, path = distil(tmp_path_factory.mktemp("serve-shapes"), shapes_cnn_teacher, shapes_folder, ["onnx"])
    return path


@pytest.fixture(scope="session")
def text_run(tmp_path_factory, tiny_bert_teacher, reviews_csv) -> tuple[dict, Path]:  # noqa: F811
    out = tmp_path_factory.mktemp("serve-reviews")
    report, _ = distil(out, tiny_bert_teacher, reviews_csv, ["onnx", "huggingface"], target_size="large")
    return report, out


@pytest.fixture(scope="session")
def text_export(text_run) -> Path:
    report, out = text_run
    return out / report["exports"]["onnx"]["path"]


class Pool:
    """``python -m prsm.serving.pool`` in a subprocess, stopped with SIGTERM at the end."""

    def __init__(self, socket_dir: Path, workers: int = 2, **options) -> None:
        from prsm.serving.client import ServingClient

        self.socket_dir = socket_dir
        args = [sys.executable, "-m", "prsm.serving.pool", "--socket-dir", str(socket_dir), "--workers", str(workers)]
        for name, value in options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        self.process = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = ServingClient(socket_dir, timeout_s=60)
        self.wait_until(lambda: all(w["alive"] for w in self._workers()), "the pool did not start")

    def _workers(self) -> list[dict]:
        from prsm.serving.errors import ServingUnavailable

        try:
            return self.client.status()["workers"]
        except ServingUnavailable:
            return [{"alive": False}]

    def wait_until(self, condition, message: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, "the pool's supervisor exited"
            assert time.monotonic() < deadline, message
            time.sleep(0.1)

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(20)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    started = Pool(tmp_path_factory.mktemp("pool"), workers=2, memory_mb=512, max_batch=32, max_wait_ms=5,
                   max_in_flight=64)
    yield started
    started.stop()
