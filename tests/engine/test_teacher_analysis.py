"""``prsm teacher analyze``: every teacher kind loads and is analysed."""

from __future__ import annotations

import json

from prsm.cli import main
from prsm.engine.analysis import analyze_teacher


def test_a_zoo_teacher_gets_quality_calibration_and_feature_importance(digits_teacher, digits_csv):
    analysis = analyze_teacher(str(digits_teacher), data=str(digits_csv))
    profile, quality = analysis["profile"], analysis["quality"]
    assert profile["params"] > 0 and profile["flops_per_example"] > 0 and profile["latency_ms_p95"] >= profile["latency_ms_p50"]
    assert 0 <= quality["ece"] <= 1 and len(quality["confusion_matrix"]) == 10
    assert sum(map(sum, quality["confusion_matrix"])) == analysis["data"]["examples_analysed"]
    importance = analysis["structure"]["permutation_importance"]
    assert len(importance["accuracy_drop"]) == 64 and len(importance["top"]) == 10
    margins = [e["margin"] for e in analysis["low_margin_examples"]]
    assert margins == sorted(margins)


def test_an_onnx_teacher_is_analysed_through_onnxruntime(digits_onnx_teacher, digits_csv):
    analysis = analyze_teacher(str(digits_onnx_teacher), data=str(digits_csv))
    assert analysis["kind"] == "onnx" and analysis["profile"]["runtime"] == "onnxruntime"
    assert analysis["classes"] == [str(i) for i in range(10)]
    assert analysis["quality"]["accuracy"] > 0.5
    profile = analysis["profile"]
    assert profile["flops_per_example"] > 2 * (64 * 256 + 256 * 256 + 256 * 10) and profile["flops_not_counted"] == {}
    assert profile["peak_memory_bytes"] > profile["params"] * 4 and profile["peak_rss_delta_bytes"] > 0


def test_a_transformer_teacher_gets_head_importance_and_layer_similarity(tiny_bert_teacher, reviews_csv):
    analysis = analyze_teacher(str(tiny_bert_teacher), data=str(reviews_csv))
    heads = analysis["structure"]["attention_head_importance"]
    assert heads["supported"] and len(heads["accuracy_drop"]) == 4 and len(heads["accuracy_drop"][0]) == 4
    cka = analysis["structure"]["layer_similarity_cka"]["cka"]
    assert len(cka) == 5 and all(abs(cka[i][i] - 1) < 1e-6 for i in range(5))
    assert analysis["profile"]["heads"] == 4 and analysis["profile"]["layers"] == 4


def test_the_command_prints_json_and_keeps_it(tmp_path, digits_teacher, capsys):
    out = tmp_path / "analysis.json"
    assert main(["teacher", "analyze", str(digits_teacher), "--json", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == json.loads(out.read_text()) and printed["profile"]["params"] > 0
