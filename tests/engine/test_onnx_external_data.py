"""ONNX external data: kept inside the model's folder or refused, and a valid split model loads and
answers like the same model in one file. Every file is made here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from prsm.engine.errors import BadInput
from prsm.engine.onnx_files import check_onnx_file
from prsm.engine.teachers import load_teacher

FEATURES, CLASSES = 16, 3


def linear_model(extra_nodes=(), extra_initializers=()):
    """``x @ W + B`` as ONNX: one float32 input [batch, 16], logits [batch, 3]."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.normal(size=(FEATURES, CLASSES)).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.normal(size=CLASSES).astype(np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["logits"]), *extra_nodes],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])],
        initializer=[weights, bias, *extra_initializers],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def save_split(model, folder: Path) -> Path:
    """The model as ``model.onnx`` + ``model.onnx.data``, as onnx writes large models."""
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=0)
    return path


def point_at(path: Path, location: str, tensors=("W",)) -> Path:
    """Rewrite the external-data location of ``tensors`` in the saved model at ``path``."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        if tensor.name in tensors:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
    onnx.save(model, str(path))
    return path


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
    from onnx import TensorProto, helper

    def external_tensor(name: str):
        tensor = helper.make_tensor(name, TensorProto.FLOAT, [CLASSES], [0.0] * CLASSES)
        tensor.ClearField("float_data")
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "../secret"), ("offset", "0"), ("length", str(4 * CLASSES))):
            tensor.external_data.add(key=key, value=value)
        return tensor

    (tmp_path / "secret").write_bytes(bytes(64))
    constant = helper.make_node("Constant", [], ["c"], value=external_tensor("c"))
    branch = helper.make_graph([helper.make_node("Constant", [], ["b"], value=external_tensor("b"))], "branch", [],
                               [helper.make_tensor_value_info("b", TensorProto.FLOAT, [CLASSES])])
    conditional = helper.make_node("If", ["flag"], ["picked"], then_branch=branch, else_branch=branch)
    flag = helper.make_tensor("flag", TensorProto.BOOL, [], [True])
    for nodes, initializers in (([constant], []), ([conditional], [flag])):
        path = tmp_path / "model" / "model.onnx"
        path.parent.mkdir(exist_ok=True)
        onnx.save(linear_model(nodes, initializers), str(path))
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
