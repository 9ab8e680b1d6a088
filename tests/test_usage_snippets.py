"""The listing page's usage snippets (marketplace.usage) run as written against real exports: tiny real
distillations (the digits teacher; a tiny BERT on short reviews) write ONNX, int8 ONNX, Transformers,
safetensors and .pth files, and each snippet, run in a fresh Python next to its downloaded file, prints
predictions of the right shape for its example batch."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once
from marketplace.usage import usage_snippets
from tests.engine.conftest import reviews_csv, shapes_cnn_teacher, shapes_folder, tiny_bert_teacher  # noqa: F401 - fixtures

FORMATS = ["onnx", "onnx-int8", "safetensors", "pth"]


@pytest.fixture(scope="module")
def digits_run(catalog_home, tmp_path_factory):  # noqa: F811 - the fixture imported above
    from prsm.engine.pipeline import DistillConfig, run_distillation

    out = tmp_path_factory.mktemp("usage-run")
    config = DistillConfig(teacher="catalog:digits-mlp", data="builtin:digits", epochs=2, exports=FORMATS)
    return run_distillation(config, out), out


def run_downloaded(snippet: dict, exported: Path, tmp_path: Path) -> list[str]:
    """The snippet run in its own folder holding only the file a buyer downloads (as the download route
    names it); its last line of output, split into the shape and the predicted labels."""
    folder = tmp_path / snippet["format"]
    folder.mkdir()
    shutil.copy(exported, folder / snippet["file"])
    (folder / "use.py").write_text(snippet["code"])
    result = subprocess.run([sys.executable, "use.py"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_every_tabular_export_has_a_snippet_that_predicts_with_it(digits_run, tmp_path):
    report, out = digits_run
    exports = [(name, record["path"]) for name, record in report["exports"].items() if record["verified"]]
    assert sorted(name for name, _ in exports) == sorted(FORMATS)

    snippets = usage_snippets(exports=exports, report=report)

    assert [s["format"] for s in snippets] == ["onnx", "onnx-int8", "safetensors", "pth"]
    for snippet in snippets:
        line = run_downloaded(snippet, out / report["exports"][snippet["format"]]["path"], tmp_path)
        shape, labels = line.split(") ", 1)
        assert ast.literal_eval(shape + ")") == (2, 10), (snippet["format"], line)
        predicted = ast.literal_eval(labels)
        assert len(predicted) == 2 and set(predicted) <= set(report["classes"]), (snippet["format"], line)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, shapes_cnn_teacher, shapes_folder):
    from prsm.engine.pipeline import DistillConfig, run_distillation

    out = tmp_path_factory.mktemp("usage-image-run")
    config = DistillConfig(teacher=str(shapes_cnn_teacher), data=str(shapes_folder), epochs=1, exports=FORMATS)
    return run_distillation(config, out), out


def test_every_image_export_has_a_snippet_that_predicts_with_it(image_run, tmp_path):
    report, out = image_run
    exports = [(name, record["path"]) for name, record in report["exports"].items() if record["verified"]]

    snippets = usage_snippets(exports=exports, report=report)

    assert [s["format"] for s in snippets] == ["onnx", "onnx-int8", "safetensors", "pth"]
    for snippet in snippets:
        line = run_downloaded(snippet, out / report["exports"][snippet["format"]]["path"], tmp_path)
        shape, labels = line.split(") ", 1)
        assert ast.literal_eval(shape + ")") == (2, 3), (snippet["format"], line)
        assert set(ast.literal_eval(labels)) <= set(report["classes"]), (snippet["format"], line)


def test_the_weights_snippets_name_no_project_code(digits_run):
    report, _ = digits_run
    exports = [(name, record["path"]) for name, record in report["exports"].items()]
    for snippet in usage_snippets(exports=exports, report=report):
        assert "import prsm" not in snippet["code"] and "from prsm" not in snippet["code"]  # no project code and snippet["file"] in snippet["code"]


TEXT_FORMATS = ["huggingface", "onnx", "safetensors", "pth"]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, tiny_bert_teacher, reviews_csv):
    from prsm.engine.pipeline import DistillConfig, run_distillation

    out = tmp_path_factory.mktemp("usage-text-run")
    config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), target_size="large", epochs=1,
                           exports=TEXT_FORMATS)
    return run_distillation(config, out), out


def test_every_text_export_has_a_snippet_that_predicts_with_it(text_run, tmp_path):
    """The Transformers folder travels with the ONNX and weights snippets: it holds the tokenizer."""
    report, out = text_run
    exports = [(name, record["path"]) for name, record in report["exports"].items() if record["verified"]]
    assert sorted(name for name, _ in exports) == sorted(TEXT_FORMATS)
    folder = out / report["exports"]["huggingface"]["path"]

    snippets = usage_snippets(exports=exports, report=report)

    assert [s["format"] for s in snippets] == ["onnx", "huggingface", "safetensors", "pth"]
    for snippet in snippets:
        run_text_snippet(snippet, folder, "huggingface", out, report, tmp_path)


def run_text_snippet(snippet: dict, folder: Path, folder_format: str, out: Path, report: dict, tmp_path: Path) -> None:
    """A text snippet run beside the export folder that holds the tokenizer (``folder_format``'s) and
    its own downloaded file; it prints two predictions of the two classes."""
    where = tmp_path / snippet["format"]
    shutil.copytree(folder, where / folder.name)
    if snippet["format"] != folder_format:
        shutil.copy(out / report["exports"][snippet["format"]]["path"], where / snippet["file"])
    (where / "use.py").write_text(snippet["code"])
    result = subprocess.run([sys.executable, "use.py"], cwd=where, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, (snippet["format"], result.stderr)
    shape, labels = result.stdout.strip().splitlines()[-1].split(") ", 1)
    assert ast.literal_eval(shape + ")") == (2, 2), snippet["format"]
    assert len(ast.literal_eval(labels)) == 2 and set(ast.literal_eval(labels)) <= {"negative", "positive"}


@pytest.fixture(scope="module")
def light_text_run(tmp_path_factory, tiny_bert_teacher, reviews_csv):  # noqa: F811 - the fixtures imported above
    """A text student of another family (a CNN) chosen by the search, its shortlist cut down to CNNs."""
    from prsm.engine.pipeline import DistillConfig, run_distillation
    from prsm.engine.students import search

    out = tmp_path_factory.mktemp("usage-light-run")
    original = search.shortlist
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search, "shortlist", lambda candidates, chosen, count: [
            c for c in original(candidates, chosen, 10) if c["name"].startswith("cnn-")][:1])
        config = DistillConfig(teacher=str(tiny_bert_teacher), data=str(reviews_csv), target_size="large", epochs=2,
                               exports=FORMATS)
        return run_distillation(config, out), out


def test_a_light_text_students_exports_each_have_a_snippet_that_predicts_with_it(light_text_run, tmp_path):
    """Its tokenizer travels in its safetensors folder (downloaded as one zip); the design is plain PyTorch."""
    report, out = light_text_run
    assert report["student"]["architecture"]["kind"] == "cnn"
    exports = [(name, record["path"]) for name, record in report["exports"].items() if record["verified"]]
    assert sorted(name for name, _ in exports) == sorted(FORMATS)
    folder = out / report["exports"]["safetensors"]["path"]
    snippets = usage_snippets(exports=exports, report=report)
    assert [s["format"] for s in snippets] == ["onnx", "onnx-int8", "safetensors", "pth"]
    for snippet in snippets:
        assert "import prsm" not in snippet["code"] and "from prsm" not in snippet["code"]  # no project code
        run_text_snippet(snippet, folder, "safetensors", out, report, tmp_path)
