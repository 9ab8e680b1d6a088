"""``prsm predict``: a run folder, an export folder or an .onnx file answers here through the served
model (the export's own preprocessing); one line per input, or JSON; exit 2 naming a bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from prsm.cli import main
from prsm.sdk.local import serving_export
from tests.engine.conftest import digits_task_data

pytestmark = pytest.mark.slow

LINE = re.compile(r"^(\S+)  \(p=(0\.\d\d|1\.00)\)")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, digits_teacher, digits_csv):
    from prsm.engine.pipeline import DistillConfig, run_distillation

    out = tmp_path_factory.mktemp("predict-digits")
    config = DistillConfig(teacher=str(digits_teacher), data=str(digits_csv), epochs=1, exports=["onnx", "onnx-int8", "safetensors"],
                           optimization_target="accuracy")
    return run_distillation(config, out), out


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory, shapes_cnn_teacher, shapes_folder):
    from prsm.engine.pipeline import DistillConfig, run_distillation

    out = tmp_path_factory.mktemp("predict-shapes")
    return run_distillation(DistillConfig(teacher=str(shapes_cnn_teacher), data=str(shapes_folder), epochs=1,
                                          exports=["onnx"]), out), out


@pytest.fixture(scope="module")
def reviews_run(tmp_path_factory, tiny_bert_teacher, reviews_csv):
    from prsm.engine.pipeline import DistillConfig, run_distillation

    out = tmp_path_factory.mktemp("predict-reviews")
    return run_distillation(DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), target_size="large",
                                          epochs=1, exports=["onnx"]), out), out


def predict_json(capsys, *argv) -> dict:
    code = main(["predict", *argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out.strip().splitlines()[-1])


def assert_distributions(outputs: list[dict], classes: list[str]) -> None:
    for output in outputs:
        assert set(output["probabilities"]) == set(classes)
        assert sum(output["probabilities"].values()) == pytest.approx(1, abs=1e-6)
        assert output["label"] == max(output["probabilities"], key=output["probabilities"].get)


def test_a_run_folder_answers_json_rows_and_comma_separated_numbers_alike(digits_run, capsys):
    report, out = digits_run
    rows = digits_task_data().features[:3].astype(int)

    answer = predict_json(capsys, "--model", str(out), json.dumps(rows[0].tolist()), ",".join(map(str, rows[1])),
                          "--row", json.dumps(rows[2].tolist()))

    assert answer["model"] == str(out) and len(answer["outputs"]) == 3
    assert_distributions(answer["outputs"], report["classes"])
    again = predict_json(capsys, "--model", str(out / report["exports"]["onnx"]["path"]), ",".join(map(str, rows[0])))
    assert again["outputs"][0] == answer["outputs"][0]  # the run folder served its float export (accuracy)


def test_a_row_keyed_by_column_predicts_as_the_same_row_in_order(digits_run, capsys):
    _, out = digits_run
    data = digits_task_data()
    row = data.features[7].astype(int).tolist()
    by_column = dict(zip(data.feature_names, row))

    answer = predict_json(capsys, "--model", str(out), json.dumps(row), json.dumps(by_column))

    first, second = answer["outputs"]
    assert first["label"] == second["label"]
    assert first["probabilities"] == pytest.approx(second["probabilities"], abs=1e-7)


def test_each_input_gets_one_line_with_its_label_and_probability(digits_run, capsys):
    report, out = digits_run
    rows = digits_task_data().features[:2].astype(int)

    code = main(["predict", "--model", str(out), *(",".join(map(str, row)) for row in rows)])

    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    for line in lines:
        label, p = LINE.match(line).groups()
        assert label in report["classes"] and 0 < float(p) <= 1
        assert len(line.split(", ")) == 2  # the next two most probable labels follow


def test_an_image_model_takes_image_files(shapes_run, shapes_folder, capsys):
    report, out = shapes_run
    onnx_file = out / report["exports"]["onnx"]["path"]
    box, bar = min((shapes_folder / "box").glob("*.png")), min((shapes_folder / "vertical").glob("*.png"))

    answer = predict_json(capsys, "--model", str(onnx_file), str(box), "--image", str(bar))

    assert len(answer["outputs"]) == 2
    assert_distributions(answer["outputs"], report["classes"])


def test_a_text_model_takes_texts_from_its_export_folder(reviews_run, capsys):
    report, out = reviews_run
    folder = (out / report["exports"]["onnx"]["path"]).parent

    answer = predict_json(capsys, "--model", str(folder), "a brilliant and moving film", "--text", "dull, tedious, awful")

    assert len(answer["outputs"]) == 2
    assert_distributions(answer["outputs"], ["negative", "positive"])


def test_the_installed_command_predicts_in_a_fresh_process(digits_run):
    report, out = digits_run
    row = ",".join(map(str, digits_task_data().features[0].astype(int)))

    result = subprocess.run([sys.executable, "-m", "prsm.cli", "predict", "--model", str(out), row],
                            capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stderr
    assert LINE.match(result.stdout.strip()).group(1) in report["classes"]


@pytest.mark.parametrize("inputs, expected", [
    (["1,2,3"], "input 0: 3 features, the model takes 64"),
    (["[1, 2, \"x\"]"], "input 0"),
    (["not a row"], "input 0: 'not a row' is not a feature row"),
    ([], "give at least one INPUT"),
])
def test_a_bad_row_exits_2_with_one_line_naming_it(digits_run, capsys, inputs, expected):
    _, out = digits_run
    code = main(["predict", "--model", str(out), *inputs])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and expected in err, err


def test_a_file_that_is_not_an_image_exits_2(shapes_run, tmp_path, capsys):
    _, out = shapes_run
    (tmp_path / "notes.png").write_text("not a picture")

    code = main(["predict", "--model", str(out), str(tmp_path / "notes.png"), str(tmp_path / "missing.png")])

    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "input 1: no image file" in err


def test_an_undecodable_image_exits_2_naming_the_input(shapes_run, tmp_path, capsys):
    _, out = shapes_run
    (tmp_path / "notes.png").write_text("not a picture")

    assert main(["predict", "--model", str(out), str(tmp_path / "notes.png")]) == 2
    assert "input 0: not a readable image" in capsys.readouterr().err


def test_a_model_that_is_neither_a_path_nor_an_id_exits_2(capsys, tmp_path):
    assert main(["predict", "--model", str(tmp_path / "nowhere"), "a text"]) == 2
    assert "neither a folder or .onnx file here nor a model id" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path), "a text"]) == 2
    assert "holds no report.json and none of model.onnx, model.int8.onnx, model.tflite" in capsys.readouterr().err


def test_a_model_id_needs_a_server(capsys, monkeypatch):
    monkeypatch.delenv("PRSM_URL", raising=False)
    assert main(["predict", "--model", "7d3c4b9e-0f43-4d55-8a0c-6a1f5d0e2b11", "a text"]) == 2
    assert "set PRSM_URL and PRSM_TOKEN" in capsys.readouterr().err


def test_a_server_that_does_not_answer_exits_1(capsys):
    from tests.fixtures import free_port

    code = main(["predict", "--model", "7d3c4b9e-0f43-4d55-8a0c-6a1f5d0e2b11", "a text",
                 "--url", f"http://127.0.0.1:{free_port()}", "--token", "key"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0 and "cannot reach http://127.0.0.1:" in err


@pytest.mark.parametrize("verified, target, expected", [
    ({"onnx", "onnx-int8", "pth"}, "speed", "onnx-int8"),
    ({"onnx", "onnx-int8"}, "accuracy", "onnx"),
    ({"onnx", "onnx-int8"}, "efficiency", "onnx"),
    ({"onnx"}, "speed", "onnx"),
    ({"onnx-int8"}, "accuracy", None),  # as a server picks: int8 only when asked for speed
    ({"pth", "safetensors"}, "speed", None),
])
def test_the_served_export_is_int8_only_for_speed(verified, target, expected):
    exports = {name: {"path": name, "verified": True} for name in verified}
    exports["onnx-int8"] = exports.get("onnx-int8", {"path": "x", "verified": False})
    assert serving_export({"exports": exports, "config": {"optimization_target": target}}) == expected


def test_the_served_model_s_probabilities_are_the_student_s_own(digits_run, capsys):
    """The ONNX export with its preprocessing gives what the engine's student (its weights export, in
    torch) gives for the same rows."""
    import torch

    from prsm.engine.zoo import load_zoo_model

    report, out = digits_run
    rows = digits_task_data().features[:5]
    served = predict_json(capsys, "--model", str(out), *(json.dumps(row.tolist()) for row in rows))["outputs"]
    student, _ = load_zoo_model((out / report["exports"]["safetensors"]["path"]).parent)
    with torch.no_grad():
        expected = torch.softmax(student.eval()(torch.from_numpy(rows)), dim=1).numpy()
    got = np.array([[output["probabilities"][label] for label in report["classes"]] for output in served])
    np.testing.assert_allclose(got, expected, atol=1e-4)
