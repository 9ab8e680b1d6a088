"""ONNX external data: kept inside the model's folder or refused, and a valid split model loads and
answers like the same model in one file. Every file is made by ``tests/hostile_files.py``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from prsm.engine.errors import BadInput
from prsm.engine.onnx_files import check_onnx_file
from prsm.engine.teachers import load_teacher
from tests.hostile_files import CLASSES, FEATURES, linear_model, point_at, save_split, with_external_constant


@pytest.fixture
def split_model(tmp_path) -> Path:
    """``tmp_path/model/model.onnx`` with its data beside it, and a ``secret`` one folder up."""
    path = save_split(linear_model(), tmp_path / "model")
    # the same bytes one level up: a model that reached it would load and answer, so only the check stops it
    (tmp_path / "secret").write_bytes((tmp_path / "model" / "model.onnx.data").read_bytes())
    return path


def test_a_split_model_loads_and_answers_like_the_same_model_in_one_file(tmp_path, split_model):
    import onnx

    whole = tmp_path / "whole.onnx"
    onnx.save_model(linear_model(), str(whole))
    assert check_onnx_file(split_model) == [split_model.parent / "model.onnx.data"]
    split, embedded = load_teacher(str(split_model)), load_teacher(str(whole))
    x = {"x": np.random.default_rng(1).normal(size=(20, FEATURES)).astype(np.float32)}

    np.testing.assert_array_equal(split.logits_of(x), embedded.logits_of(x))
    assert split.describe()["params"] == embedded.describe()["params"] == FEATURES * CLASSES + CLASSES
    assert split.describe()["size_bytes"] > split_model.stat().st_size  # the data file counts


def test_it_refuses_external_data_that_climbs_out_of_the_folder(split_model):
    point_at(split_model, "../secret")

    with pytest.raises(BadInput, match=r"model.onnx: tensor 'W': external data location '../secret' leaves the model's folder"):
        load_teacher(str(split_model))


@pytest.mark.parametrize("location", [
    "/etc/passwd", "\\etc\\passwd", "C:\\Windows\\win.ini", "C:win.ini", "\\\\server\\share\\w.bin", "//server/share/w.bin",
])
def test_it_refuses_an_absolute_external_data_path(split_model, location):
    point_at(split_model, location)

    with pytest.raises(BadInput, match="is an absolute path") as refused:
        check_onnx_file(split_model)
    assert repr(location) in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("location", ["sub/../../secret", "..\\secret", "a/b/../../../secret"])
def test_it_refuses_a_dot_dot_anywhere_in_the_path(split_model, location):
    point_at(split_model, location)

    with pytest.raises(BadInput, match=r"leaves the model's folder \('..'\)"):
        check_onnx_file(split_model)


def test_it_refuses_a_link_to_a_file_outside_or_through_a_linked_folder(tmp_path, split_model):
    folder = split_model.parent
    os.symlink(tmp_path / "secret", folder / "weights.bin")
    point_at(split_model, "weights.bin")
    with pytest.raises(BadInput, match="'weights.bin' goes through a link"):
        load_teacher(str(split_model))

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "model.onnx.data").write_bytes((folder / "model.onnx.data").read_bytes())
    os.symlink(outside, folder / "sub")
    point_at(split_model, "sub/model.onnx.data")
    with pytest.raises(BadInput, match="'sub/model.onnx.data' goes through a link"):
        check_onnx_file(split_model)


def test_even_a_link_that_stays_inside_the_folder_is_refused(split_model):
    os.symlink("model.onnx.data", split_model.parent / "alias.data")
    point_at(split_model, "alias.data")

    with pytest.raises(BadInput, match="goes through a link"):
        check_onnx_file(split_model)


def test_missing_files_nul_bytes_and_bytes_past_the_end_are_refused(split_model):
    import onnx

    point_at(split_model, "nowhere.data")
    with pytest.raises(BadInput, match="'nowhere.data' is missing"):
        check_onnx_file(split_model)
    point_at(split_model, "model.onnx.data\x00.txt")
    with pytest.raises(BadInput, match="NUL"):
        check_onnx_file(split_model)

    point_at(split_model, "model.onnx.data")
    model = onnx.load(str(split_model), load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "length":
            entry.value = str(10**9)
    onnx.save(model, str(split_model))
    with pytest.raises(BadInput, match=r"past the end of the 204-byte file"):
        check_onnx_file(split_model)


def test_tensors_in_node_attributes_and_subgraphs_are_checked_too(tmp_path):
    """A Constant node's value and an If branch's constant, each pointing at ../secret."""
    import onnx

    (tmp_path / "secret").write_bytes(bytes(64))
    for subgraph in (False, True):
        path = tmp_path / "model" / "model.onnx"
        path.parent.mkdir(exist_ok=True)
        onnx.save(with_external_constant("../secret", subgraph=subgraph), str(path))
        with pytest.raises(BadInput, match="'../secret' leaves the model's folder"):
            check_onnx_file(path)


def test_a_model_the_checker_rejects_is_refused_before_onnxruntime_sees_it(tmp_path):
    import onnx

    model = linear_model()
    model.graph.node[0].input[1] = "nothing_makes_this"
    path = tmp_path / "broken.onnx"
    onnx.save(model, str(path))

    with pytest.raises(BadInput, match=r"broken.onnx: not a valid ONNX model \("):
        load_teacher(str(path))
