"""The deploy-time measurement: one-input latency and the memory a loaded model adds, from a child process."""

from __future__ import annotations

import pytest

from prsm.serving.errors import ModelUnavailable
from prsm.serving.measure import measure


@pytest.mark.parametrize("export", ["digits_export", "image_export"])
def test_it_measures_latency_and_memory_of_a_served_model(export, request):
    figures = measure(request.getfixturevalue(export), runs=30)

    assert 0 < figures["latency_ms_p50"] <= figures["latency_ms_p95"] < 1000
    assert 0 < figures["memory_bytes"] < 500 * 2**20
    assert figures["rss_bytes"] == figures["baseline_bytes"] + figures["memory_bytes"]
    assert figures["threads"] == 1 and figures["runs"] == 30


def test_a_text_model_is_measured_with_its_tokenizer(text_export):
    figures = measure(text_export, runs=10)
    assert figures["task"] == "text" and figures["latency_ms_p95"] > 0 and figures["memory_bytes"] > 0


def test_measuring_what_is_not_a_model_says_so(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ModelUnavailable, match="not a readable ONNX model"):
        measure(tmp_path / "junk.onnx", runs=1)
