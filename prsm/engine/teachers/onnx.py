"""An ONNX model as a black-box teacher, run through onnxruntime.

CONTRACT: one float32 input (tabular ``[batch, features]`` raw values, or images
``[batch, channels, height, width]`` in 0..1) and one ``[batch, classes]`` output of logits or
probabilities; a ``labels`` JSON list in metadata_props gives the class order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.types import TaskData
from ..errors import BadInput
from ..onnx_files import check_onnx_file
from ..ort_sessions import ort_session
from .base import Teacher


class OnnxTeacher(Teacher):
    kind = "onnx"
    runtime = "onnxruntime"

    def __init__(self, ref: str, path: Path) -> None:
        super().__init__(ref)
        self.path = path
        self.external_files = check_onnx_file(path)  # external data inside the folder, onnx.checker passed
        try:
            self.session = ort_session(path)
        except Exception as error:  # onnxruntime raises its own exception types for bad files
            raise BadInput(f"{path.name}: onnxruntime cannot load it ({str(error).splitlines()[0][:200]})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].type != "tensor(float)":
            raise BadInput(f"{path.name}: an ONNX teacher takes exactly one float32 input")
        self.input_name, self.input_shape = inputs[0].name, inputs[0].shape
        self.task = {2: "tabular", 4: "image"}.get(len(self.input_shape), "")
        if not self.task:
            raise BadInput(f"{path.name}: input of rank {len(self.input_shape)}; expected [batch, features] or [batch, c, h, w]")
        self.classes = self._labels()
        self.outputs_probabilities: bool | None = None

    def _labels(self) -> list[str] | None:
        labels = self.session.get_modelmeta().custom_metadata_map.get("labels")
        if labels is None:
            return None
        try:
            return [str(name) for name in json.loads(labels)]
        except (json.JSONDecodeError, TypeError):
            raise BadInput(f"{self.path.name}: metadata 'labels' is not a JSON list") from None

    @property
    def num_outputs(self) -> int:
        shape = self.session.get_outputs()[0].shape
        width = shape[-1] if len(shape) == 2 and isinstance(shape[-1], int) else 0
        return width or (len(self.classes) if self.classes else 0)

    def check(self, data: TaskData) -> None:
        if data.task != self.task:
            raise BadInput(f"the teacher takes {self.task} data, the data is {data.task}")
        array = data.features if self.task == "tabular" else data.images
        for axis, (want, have) in enumerate(zip(self.input_shape[1:], array.shape[1:]), start=1):
            if isinstance(want, int) and want != have:
                raise BadInput(f"the teacher's input axis {axis} is {want}, the data's is {have}")

    def encode(self, data: TaskData) -> dict[str, np.ndarray]:
        return {"x": np.ascontiguousarray(data.features if self.task == "tabular" else data.images, dtype=np.float32)}

    def logits_of(self, inputs, batch_size: int = 256) -> np.ndarray:
        x = inputs["x"]
        out = np.concatenate([self._run(x[start:start + batch_size]) for start in range(0, len(x), batch_size)])
        return self._as_logits(out.astype(np.float32))

    def _run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: x})[0])

    def _as_logits(self, out: np.ndarray) -> np.ndarray:
        """Probabilities become log-probabilities, which softmax maps back to the same distribution."""
        if self.outputs_probabilities is None:
            self.outputs_probabilities = bool(out.min() >= 0 and np.allclose(out.sum(axis=1), 1, atol=1e-3))
        return np.log(np.clip(out, 1e-12, 1.0)) if self.outputs_probabilities else out

    def cost(self, inputs, measure_rss: bool = False) -> dict:
        """The same figures in onnxruntime; FLOPs and memory counted from the graph, and with
        ``measure_rss`` the resident memory measured in a fresh process."""
        from ..evaluation.compare import onnx_cost

        return onnx_cost(self.path, inputs, self.runner, measure_rss=measure_rss)

    def runner(self, inputs, batch: int):
        x = inputs["x"][np.arange(batch) % len(inputs["x"])]
        return lambda: self._run(x)

    def describe(self) -> dict:
        import onnx

        model = onnx.load(str(self.path), load_external_data=False)
        params = sum(int(np.prod(tensor.dims)) for tensor in model.graph.initializer)
        ops = [node.op_type for node in model.graph.node]
        layers = sum(op in ("Gemm", "MatMul", "Conv") for op in ops)
        return {"kind": "onnx", "family": "onnx", "params": params, "size_bytes": self._size_bytes(),
                "layers": layers, "width": None, "heads": None, "opset": _opset(model),
                "architecture": {"format": "onnx", "input": self.input_name, "input_shape": [str(d) for d in self.input_shape]}}

    def _size_bytes(self) -> int:
        return self.path.stat().st_size + sum(file.stat().st_size for file in self.external_files)


def _opset(model) -> int | None:
    return next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)
