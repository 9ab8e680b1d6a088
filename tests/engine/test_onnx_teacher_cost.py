"""An ONNX teacher's FLOPs and memory: counted from its graph's shapes, checked against torch's
own count of the same model, and its resident memory measured in a fresh process."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prsm.engine.adapters import TensorAdapter
from prsm.engine.evaluation.cost import flops_per_example
from prsm.engine.evaluation.onnx_profile import measure_peak_rss, onnx_profile
from prsm.engine.export.onnx import export_onnx
from prsm.engine.zoo import build_model, load_zoo_model

# torch's FlopCounterMode counts matrix products and convolutions only; the ONNX count adds the
# elementwise ops, pools and softmaxes, a few percent on these models
MATMUL_CONV_TOLERANCE = 0.01
TOTAL_TOLERANCE = 0.10


def torch_flops(module, x: np.ndarray) -> int:
    def run():
        with torch.inference_mode():
            return module(torch.from_numpy(x))

    return flops_per_example(run, 1)


def onnx_graph(tmp_path, nodes, initializers, input_shape, output_shape, name="graph.onnx"):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)],
                              [numpy_helper.from_array(array, name) for name, array in initializers.items()])
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_a_cnn_exported_to_onnx_counts_the_flops_torch_counts(tmp_path):
    architecture = {"format": "prsm-zoo/1", "kind": "cnn", "task": "image", "classes": ["a", "b", "c"],
                    "config": {"in_channels": 1, "image_size": [16, 16], "channels": [8, 16], "hidden": 32, "dropout": 0.1}}
    torch.manual_seed(0)
    module = build_model(architecture).eval()
    x = np.random.default_rng(0).random((4, 1, 16, 16), dtype=np.float32)
    path = export_onnx(module, TensorAdapter(), {"x": x[:2]}, tmp_path / "cnn.onnx", architecture["classes"])

    profile = onnx_profile(path, {"x": x})
    expected = torch_flops(module, x[:1])
    assert profile["flops_matmul_conv"] == pytest.approx(expected, rel=MATMUL_CONV_TOLERANCE)
    assert profile["flops_per_example"] == pytest.approx(expected, rel=TOTAL_TOLERANCE)
    assert profile["flops_per_example"] > expected and "Relu" in profile["flops_by_op"]
    assert profile["flops_not_counted"] == {}


def test_the_digits_onnx_teacher_counts_what_its_zoo_original_counts(digits_teacher, digits_onnx_teacher):
    module, _ = load_zoo_model(digits_teacher)
    x = np.zeros((3, 64), np.float32)
    profile = onnx_profile(digits_onnx_teacher, {"x": x})
    assert profile["flops_matmul_conv"] == pytest.approx(torch_flops(module, x[:1]), rel=MATMUL_CONV_TOLERANCE)
    weights = sum(p.numel() * 4 for p in module.parameters())
    assert profile["peak_memory_bytes"] > weights


def test_an_op_it_cannot_count_is_listed_and_counted_as_zero(tmp_path):
    from onnx import helper

    weight = np.ones((4, 8), np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Einsum", ["r"], ["y"], equation="ij->ij")]
    path = onnx_graph(tmp_path, nodes, {"w": weight}, ["batch", 4], ["batch", 8])

    profile = onnx_profile(path, {"x": np.zeros((5, 4), np.float32)})
    assert profile["flops_by_op"] == {"MatMul": 2 * 4 * 8, "Relu": 8}  # batch 1 whatever the example's batch
    assert profile["flops_not_counted"] == {"Einsum": 1}
    assert profile["peak_memory_bytes"] == weight.nbytes + 3 * 8 * 4


def test_the_measured_resident_memory_sees_onnxruntimes_own_allocations(tmp_path):
    """8 MB of weights live in onnxruntime's heap, which tracemalloc never sees; the process's
    high-water mark does."""
    from onnx import helper

    weight = np.random.default_rng(0).random((1024, 2048), dtype=np.float32)
    path = onnx_graph(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["y"])], {"w": weight}, ["batch", 1024],
                      ["batch", 2048])
    measured = measure_peak_rss(path, {"x": np.ones((1, 1024), np.float32)})
    assert measured["peak_rss_delta_bytes"] >= weight.nbytes, measured["peak_rss_method"]
    assert "VmHWM" in measured["peak_rss_method"]
