"""What an ONNX graph costs, without torch: FLOPs per example and memory from the graph's shapes,
and the memory onnxruntime really takes, measured in a fresh process.

FLOPs: the graph's inputs are fixed to a batch of 1 with the example's other sizes (sequence
length, image size), ``onnx.shape_inference.infer_shapes`` gives every tensor a shape, and each
node is counted from them: MatMul ``2*M*N*K`` (batched: 2*K per output element), Gemm ``2*M*N*K``,
Conv ``2*Cout*Hout*Wout*(Cin/groups)*kh*kw``, elementwise ops one per output element, Softmax about
five (max, subtract, exp, sum, divide), pools the kernel size per output element, reductions one
per input element. Ops that only move or reshape data count 0; any other op (or one whose shapes
could not be inferred) counts 0 and is listed in ``flops_not_counted``. torch's ``FlopCounterMode``
counts only matrix products and convolutions: ``flops_matmul_conv`` is the part comparable with it.

Memory is counted as the torch teachers' is (weights plus every activation one forward pass
produces, an upper bound; views such as Reshape are free), so teacher and student compare; and
``peak_rss_delta_bytes`` is measured: the process's resident-set high-water mark (``VmHWM`` in
``/proc/self/status``) around creating a session and running one batch, in a fresh interpreter
that has imported onnxruntime and nothing else. tracemalloc cannot see onnxruntime's allocations.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

MATMUL_OPS = {"MatMul": 0, "MatMulInteger": 0, "QLinearMatMul": 0}  # op -> index of the left operand
CONV_OPS = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}  # op -> index of the weight
PER_OUTPUT_ELEMENT = {
    **dict.fromkeys(
        "Add Sub Mul Div Pow Sqrt Reciprocal Exp Log Neg Abs Floor Ceil Round Sign Sin Cos Erf Relu LeakyRelu "
        "PRelu Elu Selu Celu Gelu Sigmoid HardSigmoid HardSwish Tanh Softplus Softsign Mish Clip Max Min Sum "
        "Mean Where Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor Not IsNaN IsInf Mod "
        "QuantizeLinear DequantizeLinear DynamicQuantizeLinear".split(), 1),
    "BatchNormalization": 2,  # at inference: one scale and one shift per element
    "Softmax": 5, "LogSoftmax": 5,
    "LayerNormalization": 5, "InstanceNormalization": 5, "GroupNormalization": 5,
}
PER_INPUT_ELEMENT = set("GlobalAveragePool GlobalMaxPool ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd "
                        "ReduceL1 ReduceL2 ReduceSumSquare ReduceLogSumExp ArgMax ArgMin CumSum".split())
POOL_OPS = {"MaxPool", "AveragePool", "LpPool"}
# no arithmetic, and (the first group) no new memory either: a view of their input
VIEW_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Constant", "Shape", "Size"}
NO_ARITHMETIC = VIEW_OPS | set("Transpose Concat Split Slice Gather GatherElements GatherND Cast CastLike Expand "
                               "Tile Pad ConstantOfShape Range ScatterND ScatterElements NonZero Trilu "
                               "SequenceConstruct SplitToSequence DepthToSpace SpaceToDepth OneHot".split())
ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}

RSS_TIMEOUT_S = 120


def onnx_profile(path: Path | str, example: dict[str, np.ndarray]) -> dict:
    """FLOPs per example and weights-plus-activations bytes of the model at ``path``, at batch 1 and
    the sizes of ``example`` (a dict of input name to array; one array fits a one-input model)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)  # shapes need the dims, not the weights
    model = _with_concrete_inputs(_inlined(model), example)
    inferred, how = _inferred(model)
    shapes, types = _known_shapes(inferred.graph)
    by_op: Counter = Counter()
    not_counted: Counter = Counter()
    activations = 0
    for node in inferred.graph.node:
        flops = node_flops(node, shapes)
        if flops is None:
            not_counted[node.op_type] += 1
        elif flops:
            by_op[node.op_type] += flops
        if node.op_type not in VIEW_OPS:
            activations += sum(_bytes(shapes.get(name), types.get(name)) for name in node.output if name)
    weights = sum(math.prod(t.dims) * ELEMENT_BYTES.get(t.data_type, 4) for t in inferred.graph.initializer)
    total = sum(by_op.values())
    return {"flops_per_example": int(total) if total else None,
            "flops_matmul_conv": int(sum(v for op, v in by_op.items() if op in MATMUL_OPS or op in CONV_OPS or op == "Gemm")),
            "flops_by_op": dict(sorted(by_op.items(), key=lambda item: -item[1])),
            "flops_not_counted": dict(sorted(not_counted.items())),
            "peak_memory_bytes": int(weights + activations), "shape_inference": how}


def _inferred(model):
    """onnx's shape inference; where it leaves tensors without numbers (it cannot follow a Slice
    whose bounds come from a Shape, as in every exported transformer), onnxruntime's symbolic
    shape inference, which propagates such values."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    shapes, _ = _known_shapes(inferred.graph)
    if all(name in shapes for node in inferred.graph.node for name in node.output if name):
        return inferred, "onnx"
    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        return SymbolicShapeInference.infer_shapes(model, auto_merge=True), "onnx, then onnxruntime's symbolic"
    except Exception:  # it refuses some graphs outright; onnx's partial shapes still count what they can
        return inferred, "onnx (partial)"


def node_flops(node, shapes: dict[str, tuple[int, ...]]) -> int | None:
    """FLOPs of one node at the inferred ``shapes``; 0 for data movement, None when not counted."""
    op = node.op_type
    if node.domain not in ("", "ai.onnx"):
        return None
    if op in NO_ARITHMETIC:
        return 0
    out = shapes.get(node.output[0]) if node.output else None
    first = shapes.get(node.input[0]) if node.input else None
    if out is None:
        return None
    if op in MATMUL_OPS:
        left = shapes.get(node.input[MATMUL_OPS[op]])
        return 2 * math.prod(out) * left[-1] if left else None
    if op == "Gemm":
        if first is None or len(first) != 2:
            return None
        k = first[0] if _attribute(node, "transA", 0) else first[1]
        return 2 * math.prod(out) * k
    if op in CONV_OPS or op == "ConvTranspose":
        weight = shapes.get(node.input[CONV_OPS.get(op, 1)])
        if weight is None:
            return None
        # a ConvTranspose scatters every input element through its kernel ([Cin, Cout/groups, k...])
        positions = math.prod(out) if op != "ConvTranspose" else math.prod(first) if first else None
        return 2 * positions * math.prod(weight[1:]) if positions else None
    if op in PER_OUTPUT_ELEMENT:
        return PER_OUTPUT_ELEMENT[op] * math.prod(out)
    if op in PER_INPUT_ELEMENT:
        return math.prod(first) if first is not None else None
    if op in POOL_OPS:
        return math.prod(out) * math.prod(_attribute(node, "kernel_shape", [1]))
    return None


def measure_peak_rss(path: Path | str, example: dict[str, np.ndarray], threads: int = 1) -> dict:
    """``peak_rss_delta_bytes``: how far onnxruntime raised the resident-set high-water mark
    (VmHWM) while creating a session for ``path`` and running ``example`` once, measured in a fresh
    Python process. None where ``/proc`` is missing (not Linux) or the child fails."""
    if not Path("/proc/self/status").is_file():
        return {"peak_rss_delta_bytes": None, "peak_rss_method": "unavailable: no /proc on this system"}
    with tempfile.TemporaryDirectory(prefix="prsm-rss-") as scratch:
        feed = Path(scratch) / "feed.npz"
        np.savez(feed, **{name: np.ascontiguousarray(array) for name, array in example.items()})
        try:
            result = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(path), str(feed), str(threads)],
                                    capture_output=True, text=True, timeout=RSS_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return {"peak_rss_delta_bytes": None, "peak_rss_method": f"unavailable: timed out after {RSS_TIMEOUT_S} s"}
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["child failed"])[-1][:200]
        return {"peak_rss_delta_bytes": None, "peak_rss_method": f"unavailable: {reason}"}
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return {"peak_rss_delta_bytes": measured["delta"],
            "peak_rss_method": f"VmHWM after session creation and one batch-{measured['batch']} run, minus "
                               f"{measured['baseline']}, in a fresh process"}


# The child resets the high-water mark to the current RSS (clear_refs 5, Linux 4.0+) so that the
# imports' own peak does not hide the session's; where it cannot, it starts from the peak so far
# (which can only under-state the session's share).
_RSS_CHILD = r"""
import json, sys
import numpy as np
import onnxruntime as ort

def status(key):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

path, feed_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
feed = dict(np.load(feed_path))
try:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    baseline, how = status("VmRSS"), "the RSS before"
except OSError:
    baseline, how = status("VmHWM"), "the high-water mark before"
options = ort.SessionOptions()
options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = threads, 1, 3
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
session.run(None, feed)
batch = len(next(iter(feed.values())))
print(json.dumps({"delta": max(0, status("VmHWM") - baseline), "baseline": how, "batch": batch}))
"""


def _inlined(model):
    """Local functions inlined, so their nodes are counted like any other."""
    if not model.functions:
        return model
    from onnx import inliner

    return inliner.inline_local_functions(model)


def _with_concrete_inputs(model, example: dict[str, np.ndarray]):
    """Batch 1 and the example's other sizes on every graph input; stale inferred shapes cleared."""
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    arrays = dict(example)
    if len(inputs) == 1 and len(arrays) == 1 and inputs[0].name not in arrays:
        arrays = {inputs[0].name: next(iter(arrays.values()))}
    for graph_input in inputs:
        array = arrays.get(graph_input.name)
        if array is None:
            continue
        dims = graph_input.type.tensor_type.shape.dim
        for axis, size in enumerate(array.shape):
            if axis < len(dims):
                dims[axis].Clear()
                dims[axis].dim_value = 1 if axis == 0 else int(size)
    del model.graph.value_info[:]
    for output in model.graph.output:
        output.type.tensor_type.ClearField("shape")
    return model


def _known_shapes(graph) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """Every tensor whose dims are all known numbers: name -> shape, and name -> element type."""
    shapes, types = {}, {}
    for info in list(graph.input) + list(graph.value_info) + list(graph.output):
        tensor = info.type.tensor_type
        types[info.name] = tensor.elem_type
        if tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim):
            shapes[info.name] = tuple(d.dim_value for d in tensor.shape.dim)
    for initializer in graph.initializer:
        shapes[initializer.name], types[initializer.name] = tuple(initializer.dims), initializer.data_type
    return shapes, types


def _bytes(shape: tuple[int, ...] | None, elem_type: int | None) -> int:
    return math.prod(shape) * ELEMENT_BYTES.get(elem_type or 1, 4) if shape is not None else 0


def _attribute(node, name: str, default):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default
