"""A teacher from the engine's own model zoo (architecture.json + model.safetensors)."""

from __future__ import annotations

from pathlib import Path

from ..adapters import TensorAdapter
from ..data.types import TaskData
from ..errors import BadInput
from ..zoo import load_zoo_model
from .base import Teacher


class ZooTeacher(Teacher):
    kind = "zoo"

    def __init__(self, ref: str, folder: Path) -> None:
        super().__init__(ref)
        self.path = folder
        try:
            self.module, self.architecture = load_zoo_model(folder)
        except (ValueError, KeyError, RuntimeError, TypeError) as error:
            raise BadInput(f"{folder.name}: not a loadable zoo model ({str(error).splitlines()[0]})") from None
        self.task = self.architecture.get("task") or ("image" if self.architecture["kind"] == "cnn" else "tabular")
        self.classes = [str(name) for name in self.architecture["classes"]]
        self.adapter = TensorAdapter()

    def check(self, data: TaskData) -> None:
        config = self.architecture["config"]
        if data.task != self.task:
            raise BadInput(f"the teacher takes {self.task} data, the data is {data.task}")
        if self.task == "tabular" and data.features.shape[1] != config["input_dim"]:
            raise BadInput(f"the teacher takes {config['input_dim']} features, the data has {data.features.shape[1]}")
        if self.task == "image":
            expected = (config["in_channels"], *config["image_size"])
            if tuple(data.images.shape[1:]) != tuple(expected):
                raise BadInput(f"the teacher takes images of {_shape(expected)}, the data's are {_shape(data.images.shape[1:])}")

    def describe(self) -> dict:
        config = self.architecture["config"]
        params = sum(p.numel() for p in self.module.parameters())
        width = config.get("hidden") if self.architecture["kind"] == "mlp" else config.get("channels")
        return {"kind": "zoo", "family": self.architecture["kind"], "params": int(params),
                "size_bytes": _folder_bytes(self.path), "layers": len(width or []) + 1,
                "width": max(width) if width else None, "heads": None, "architecture": self.architecture}


def _shape(shape) -> str:
    return "x".join(str(int(n)) for n in shape)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
