"""A Hugging Face directory that carries custom code is refused before anything in it is loaded."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from prsm.engine.errors import BadInput
from prsm.engine.teachers import load_teacher

from .conftest import tiny_bert_classifier


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory):
    """A real 1-layer BERT classifier saved with save_pretrained: config, safetensors, tokenizer."""
    folder = tmp_path_factory.mktemp("teachers") / "bert"
    model, tokenizer = tiny_bert_classifier()
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


@pytest.fixture
def hf_dir(clean_dir, tmp_path):
    return shutil.copytree(clean_dir, tmp_path / "bert")


def code_writing(canary) -> str:
    return f"open({str(canary)!r}, 'w').write('imported')\nclass EvilModel: pass\n"


def refusal(folder) -> str:
    with pytest.raises(BadInput) as caught:
        load_teacher(str(folder))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_clean_directory_loads(hf_dir):
    assert load_teacher(str(hf_dir)).classes == ["neg", "pos"]


def test_it_refuses_a_config_with_auto_map(hf_dir, tmp_path):
    (hf_dir / "modeling_evil.py").write_text(code_writing(tmp_path / "canary"))
    config = json.loads((hf_dir / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.EvilModel"}
    (hf_dir / "config.json").write_text(json.dumps(config))

    assert refusal(hf_dir) == "bert: needs custom code (auto_map); only built-in architectures are loaded"
    assert not (tmp_path / "canary").exists()


@pytest.mark.parametrize("name", ["modeling_evil.py", "code/deep/helpers.PY"])
def test_it_refuses_a_python_file_anywhere_in_the_folder_without_auto_map(hf_dir, tmp_path, name):
    (hf_dir / name).parent.mkdir(parents=True, exist_ok=True)
    (hf_dir / name).write_text(code_writing(tmp_path / "canary"))

    assert refusal(hf_dir) == f"bert: holds custom code ({name}); only built-in architectures are loaded"
    assert not (tmp_path / "canary").exists()


def test_it_refuses_custom_code_before_converting_pickled_weights(hf_dir, tmp_path, monkeypatch):
    """A folder whose weights need converting is checked first: the converted copy would leave the
    code file behind and load as if it were clean."""
    from safetensors.torch import load_file

    monkeypatch.setenv("PRSM_HOME", str(tmp_path / "home"))
    torch.save(load_file(hf_dir / "model.safetensors"), hf_dir / "pytorch_model.bin")
    (hf_dir / "model.safetensors").unlink()
    (hf_dir / "modeling_evil.py").write_text(code_writing(tmp_path / "canary"))

    assert refusal(hf_dir) == "bert: holds custom code (modeling_evil.py); only built-in architectures are loaded"
    assert not (tmp_path / "home" / "converted").exists()
    assert not (tmp_path / "canary").exists()
