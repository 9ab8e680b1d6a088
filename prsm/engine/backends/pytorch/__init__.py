"""The PyTorch backend: zoo MLP students for tabular data, zoo CNN students for images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ...adapters import TensorAdapter, predict_logits
from ...data.types import TaskData
from ...errors import BadInput
from ...export.onnx import export_onnx, quantize_int8, verify_int8, verify_onnx
from ...export.preprocessing import describe
from ...export.weights import export_pth, export_safetensors
from ...students.design import Candidate
from ...zoo import build_model
from ..base import Backend, Student
from . import students

MIN_STEPS = 1500


class PyTorchBackend(Backend):
    name = "pytorch"
    tasks = ("tabular", "image")
    formats = ("safetensors", "pth", "onnx", "onnx-int8")
    default_exports = formats

    def candidates(self, teacher, train: TaskData, base: str | None = None,
                   vocabulary_size: int | None = None) -> list[Candidate]:
        if base is not None:
            raise BadInput("student_base is for text students (the transformers backend); "
                           f"{train.task} students are generated, not cut from a pretrained model")
        if vocabulary_size is not None:
            raise BadInput(f"vocabulary_size is for text students (the transformers backend); {train.task} "
                           "students have no vocabulary")
        if train.task == "tabular":
            return students.mlp_candidates(train.classes, train.features.shape[1])
        return students.cnn_candidates(train.classes, tuple(train.images.shape[1:]))

    def copy_candidate(self, path: str, train: TaskData) -> Candidate:
        from ...teachers import resolve_teacher_path
        from ...zoo import is_zoo_folder, load_zoo_model

        path = str(resolve_teacher_path(path))  # a catalog teacher's folder too
        if not is_zoo_folder(path):
            raise BadInput(f"student_from: {path} is not a zoo folder (architecture.json and model.safetensors, as a "
                           "finished PyTorch job's model/ export)")
        model, architecture = load_zoo_model(path)
        if list(architecture["classes"]) != list(train.classes):
            raise BadInput(f"student_from: the model's labels ({', '.join(architecture['classes'])}) are not the data's "
                           f"({', '.join(train.classes)}); a copy keeps its outputs, so the labels must be the same")
        config = architecture["config"]
        hidden = config.get("hidden")
        layers = len(hidden) if isinstance(hidden, list) else len(config.get("channels", [])) + 1
        width = max(hidden) if isinstance(hidden, list) and hidden else int(config.get("hidden") or 0)
        return Candidate(name=f"copy of {Path(path).name}", architecture=architecture,
                         params=int(sum(p.numel() for p in model.parameters())), layers=layers, width=width,
                         source={"copy_of": str(path)})

    def measure(self, candidate: Candidate, teacher, train: TaskData) -> None:
        students.measure(candidate, train.features if train.task == "tabular" else train.images)

    def build(self, candidate: Candidate, teacher, train: TaskData, seed: int, base: str | None = None,
              vocabulary_size: int | None = None) -> Student:
        architecture = candidate.architecture
        if (candidate.source or {}).get("copy_of"):  # its own scaling and weights, as it was saved
            from ...zoo import load_zoo_model

            module, architecture = load_zoo_model(candidate.source["copy_of"])
            return Student(module=module.train(), adapter=TensorAdapter(), architecture=architecture,
                           family=architecture["kind"], extra={"initialised_from": {"copy_of": candidate.source["copy_of"]}})
        if architecture["kind"] == "mlp":
            architecture = students.scaled_mlp_architecture(architecture, train)
        torch.manual_seed(seed)
        return Student(module=build_model(architecture), adapter=TensorAdapter(), architecture=architecture,
                       family=architecture["kind"])

    def default_settings(self, student: Student, train_rows: int) -> dict:
        """Soft targets teach more slowly than labels but keep teaching (Beyer et al., 2022, "a good
        teacher is patient"): small data sets get enough epochs for ~1,500 steps, and patience grows
        with them. On 200 digits, 160 steps left the distilled MLP behind the labels-only one; 800 put it ahead."""
        batch = 64
        base, lr = (40, 3e-3) if student.family == "mlp" else (15, 2e-3)
        epochs = min(300, max(base, math.ceil(MIN_STEPS / math.ceil(train_rows / batch))))
        return {"learning_rate": lr, "batch_size": batch, "epochs": epochs, "patience": max(4, epochs // 5)}

    def export(self, student: Student, formats: list[str], folder: Path, root: Path, test: TaskData) -> dict:
        unknown = [f for f in formats if f not in self.formats]
        if unknown:
            raise BadInput(f"export format {unknown[0]!r} is not available for {self.name} students ({', '.join(self.formats)})")
        inputs = student.adapter.encode(test)
        x = inputs["x"][:256]
        expected = predict_logits(student.module, student.adapter, {"x": x})
        records: dict[str, dict] = {}
        if "safetensors" in formats:
            records["safetensors"] = export_safetensors(student.module, student.architecture, folder / "model", root, x, expected)
        if "pth" in formats:
            records["pth"] = export_pth(student.module, lambda: build_model(student.architecture),
                                        folder / "model.pth", root, x, expected)
        if "onnx" in formats or "onnx-int8" in formats:
            records.update(self._onnx(student, formats, folder, root, inputs, test.labels,
                                      describe(test, student.adapter)))
        return records

    def _onnx(self, student: Student, formats: list[str], folder: Path, root: Path, inputs: dict, labels: np.ndarray,
              preprocessing: dict) -> dict:
        path = export_onnx(student.module, student.adapter, {"x": inputs["x"][:2]}, folder / "model.onnx",
                           student.architecture["classes"], preprocessing)
        expected = predict_logits(student.module, student.adapter, inputs)
        records = {}
        if "onnx" in formats:
            records["onnx"] = verify_onnx(path, inputs, expected, root)
        if "onnx-int8" in formats:
            target = folder / "model.int8.onnx"
            note = quantize_int8(path, target)
            records["onnx-int8"] = verify_int8(target, inputs, labels, expected, root, note)
        if "onnx" not in formats:
            path.unlink()
        return records


BACKEND = PyTorchBackend()
