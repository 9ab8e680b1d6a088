"""A Keras 3 model saved as ``.keras`` as a teacher, run in TensorFlow.

Someone else's ``.keras`` file is never deserialised as it is:

1. ``untrusted.keras_archive`` reads the zip and walks ``config.json`` as plain JSON: only built-in
   layers, no Lambda, no custom or registered objects, no ``TFSMLayer``, no paths outside the
   archive; then repacks the checked config with the original weights member.
2. The one ``keras.saving.load_model(safe_mode=True, compile=False)`` of that repacked file runs in
   the confined child (``untrusted.keras_child``, through ``run_confined``), which writes the weights
   out as safetensors.
3. This process builds the model from the checked config (``model_from_json``, safe mode left on)
   and sets the weights from the safetensors copy. The copy is kept under ``$PRSM_HOME/converted``,
   keyed by the file's sha256, so the child runs once per file.

CONTRACT: one float32 input, ``[batch, features]`` or images ``[batch, height, width, channels]``
(or channels-first where the model's layers say ``channels_first``) in 0..1; one ``[batch, classes]``
output. A ``labels`` JSON list in the archive's ``metadata.json`` gives the class order.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..data.types import TaskData
from ..errors import BadInput
from ..export.files import sha256_of
from ..untrusted.keras_archive import (
    DEFAULT_LIMITS,
    WEIGHTS_H5,
    KerasLimits,
    check_keras_archive,
    check_keras_config,
    repack_keras_archive,
)
from ..untrusted.kinds import safetensors_tensors
from ..untrusted.sandbox import ChildFailed, ChildTimedOut, Confinement, run_confined
from .base import Teacher

CONFIG_FILE, WEIGHTS_FILE, INFO_FILE = "config.json", "model.weights.safetensors", "teacher.json"
CHILD = "prsm.engine.untrusted.keras_child:convert"
OUTPUT_SLACK_BYTES = 16 << 20  # the safetensors copy may exceed the HDF5 weights by this (headers)
MAX_REASON_CHARS = 300
COUNTED_LAYERS = frozenset({"Dense", "Conv1D", "Conv2D", "LSTM", "GRU", "MultiHeadAttention"})


def converted_keras_teacher(path: Path, cache: Path | None = None, *, limits: KerasLimits = DEFAULT_LIMITS) -> Path:
    """The folder holding the checked config, the weights as safetensors and ``teacher.json`` for
    the ``.keras`` file at ``path``: made once under ``$PRSM_HOME/converted`` and reused after that."""
    if cache is None:
        from ..data.builtin import prsm_home

        cache = prsm_home() / "converted"
    final = cache / f"{path.name}-{sha256_of(path)[:20]}"
    if (final / INFO_FILE).is_file():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=cache))
    try:
        upload = staging / "upload.keras"
        sha256 = _copy_hashing(path, upload)  # checked, repacked and keyed: this copy, whatever the path holds now
        final = cache / f"{path.name}-{sha256[:20]}"
        kept = staging / "kept"
        kept.mkdir()
        info = _convert(upload, kept, path.name, limits)
        info |= {"source": path.name, "sha256": sha256, "size_bytes": upload.stat().st_size}
        (kept / INFO_FILE).write_text(json.dumps(info, indent=2))  # written last: it marks a finished copy
        _move_into_place(kept, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _convert(upload: Path, kept: Path, label: str, limits: KerasLimits) -> dict:
    """Check ``upload``, load it in the child, and put the checked config and the weights in ``kept``."""
    checked = check_keras_archive(upload, limits, label)
    packed = repack_keras_archive(upload, checked, upload.with_name("checked.keras"))
    out = kept / WEIGHTS_FILE
    info = _run_child(packed, out, label, limits)
    tensors = safetensors_tensors(out) if out.is_file() else {}
    if len(tensors) != info.get("weights"):
        raise BadInput(f"{label}: not converted: the safetensors copy did not check out")
    (kept / CONFIG_FILE).write_text(json.dumps(checked.config))
    return {**info, "labels": checked.labels, "keras_version": checked.metadata.get("keras_version")}


def _run_child(packed: Path, out: Path, label: str, limits: KerasLimits) -> dict:
    max_output = 2 * _member_size(packed, WEIGHTS_H5) + OUTPUT_SLACK_BYTES
    size = packed.stat().st_size
    # TensorFlow's own address space is taken before the limits (the child imports it first); the
    # child runs it on one thread per pool, so a small model loads with well under the headroom
    confinement = Confinement(
        memory_bytes=min(3 * size + limits.memory_headroom_bytes, limits.max_memory_bytes),
        cpu_seconds=limits.cpu_seconds, wall_seconds=limits.wall_seconds, open_files=limits.open_files,
        max_write_bytes=max_output, writable=str(out.parent), task="the conversion")
    try:
        return run_confined(CHILD, [str(packed.resolve()), sha256_of(packed), str(out.resolve()), max_output], confinement)
    except ChildTimedOut:
        raise BadInput(f"{label}: loading it took longer than {limits.wall_seconds} s") from None
    except ChildFailed as failed:
        reason = failed.reason.replace(str(packed.resolve()), label)
        raise BadInput(f"{label}: not loaded: {reason}"[:MAX_REASON_CHARS + len(label)]) from None


def _member_size(path: Path, name: str) -> int:
    with zipfile.ZipFile(path) as archive:
        return archive.getinfo(name).file_size


def _move_into_place(kept: Path, final: Path) -> None:
    try:
        kept.rename(final)
    except OSError:
        if not (final / INFO_FILE).is_file():  # else another process converted the same file first: its copy is used
            raise


def _copy_hashing(source: Path, target: Path) -> str:
    digest = hashlib.sha256()
    with open(source, "rb") as handle, open(target, "wb") as out:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


class KerasTeacher(Teacher):
    """A checked, converted ``.keras`` model (see the module) run with ``model(x, training=False)``."""

    kind = "keras"
    runtime = "tensorflow"

    def __init__(self, ref: str, path: Path, cache: Path | None = None) -> None:
        super().__init__(ref)
        self.path = path
        self.folder = converted_keras_teacher(path, cache)
        self.info = json.loads((self.folder / INFO_FILE).read_text())
        self.config = json.loads((self.folder / CONFIG_FILE).read_text())
        check_keras_config(self.config, path.name)  # the kept copy is checked again before it is built
        self.model = _build(self.config, self.folder / WEIGHTS_FILE, path.name)
        self.input_shape = list(self.model.inputs[0].shape)
        self.task = {2: "tabular", 4: "image"}.get(len(self.input_shape), "")
        if not self.task:
            raise BadInput(f"{path.name}: input of rank {len(self.input_shape)}; a Keras teacher takes [batch, features] "
                           "or [batch, height, width, channels]")
        if len(self.model.outputs[0].shape) != 2:
            raise BadInput(f"{path.name}: output of rank {len(self.model.outputs[0].shape)}; a teacher's output is [batch, classes]")
        self.channels_last = _channels_last(self.config)
        self.classes = self.info.get("labels")
        # a softmax at the end gives probabilities: their logarithms are logits of the same distribution
        self.outputs_probabilities = _ends_in_softmax(self.config)

    @property
    def num_outputs(self) -> int:
        width = self.model.outputs[0].shape[-1]
        return width or (len(self.classes) if self.classes else 0)

    def expected_shape(self) -> tuple:
        """One example's shape as the engine stores it: ``(features,)`` or ``(channels, height, width)``."""
        shape = tuple(self.input_shape[1:])
        return (shape[2], shape[0], shape[1]) if self.task == "image" and self.channels_last else shape

    def check(self, data: TaskData) -> None:
        if data.task != self.task:
            raise BadInput(f"the teacher takes {self.task} data, the data is {data.task}")
        have = (data.features if self.task == "tabular" else data.images).shape[1:]
        for axis, (want, got) in enumerate(zip(self.expected_shape(), have), start=1):
            if want is not None and want != got:
                raise BadInput(f"the teacher's input axis {axis} is {want}, the data's is {got}")

    def encode(self, data: TaskData) -> dict[str, np.ndarray]:
        if self.task == "tabular":
            return {"x": np.ascontiguousarray(data.features, dtype=np.float32)}
        images = data.images  # stored [n, channels, height, width]; Keras' default is channels-last
        return {"x": np.ascontiguousarray(images.transpose(0, 2, 3, 1) if self.channels_last else images, dtype=np.float32)}

    def logits_of(self, inputs, batch_size: int = 256) -> np.ndarray:
        x = inputs["x"]
        out = np.concatenate([self._run(x[start:start + batch_size]) for start in range(0, len(x), batch_size)])
        return np.log(np.clip(out, 1e-12, 1.0)) if self.outputs_probabilities else out

    def _run(self, x: np.ndarray) -> np.ndarray:
        import keras

        return keras.ops.convert_to_numpy(self.model(x, training=False)).astype(np.float32)

    def runner(self, inputs, batch: int):
        x = inputs["x"][np.arange(batch) % len(inputs["x"])]
        return lambda: self._run(x)

    def cost(self, inputs) -> dict:
        """Latency at batch 1 and 32 of the model called eagerly in TensorFlow, measured as the
        TensorFlow backend measures a Keras student; memory is the weights' bytes, FLOPs are not counted."""
        from ..backends.tensorflow.models import keras_cost

        return keras_cost(self.model, inputs["x"])

    def describe(self) -> dict:
        layers = list(_layer_configs(self.config))
        counted = [config for name, config in layers if name in COUNTED_LAYERS]
        widths = [config.get("units") or config.get("filters") for config in counted]
        heads = [config["num_heads"] for name, config in layers if name == "MultiHeadAttention"]
        return {"kind": "keras", "family": "keras", "params": _parameter_count(self.model),  # trainable, as torch counts
                "size_bytes": int(self.info.get("size_bytes") or self.path.stat().st_size), "layers": len(counted),
                "width": max((w for w in widths if isinstance(w, int)), default=None), "heads": max(heads, default=None),
                "architecture": {"format": "keras", "model": self.config.get("class_name"),
                                 "input_shape": [str(d) for d in self.input_shape],
                                 "layout": "channels_last" if self.channels_last else "channels_first",
                                 "keras_version": self.info.get("keras_version")}}

    def report_extra(self) -> dict:
        return {"format": "keras", "sha256": self.info.get("sha256"),
                "outputs": "probabilities (logits are their logarithms)" if self.outputs_probabilities else "logits"}


def _build(config: dict, weights: Path, label: str):
    """The model built from the checked config (``safe_mode`` on) with the converted weights set."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from safetensors import safe_open

    tensors = safetensors_tensors(weights)
    try:
        model = keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)  # it empties what it reads
    except Exception as error:  # noqa: BLE001 - Keras' own refusal of a config: one line of it
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise BadInput(f"{label}: Keras cannot build the model ({type(error).__name__}: {first[:200]})") from None
    with safe_open(str(weights), framework="np") as handle:
        paths = json.loads((handle.metadata() or {}).get("prsm.paths", "[]"))
        arrays = [handle.get_tensor(f"{i:05d}") for i in range(len(tensors))]
    # a path's first parts depend on the models built before in this process: the layer and variable names do not
    names = [w.path.split("/")[-2:] for w in model.weights]
    if names != [path.split("/")[-2:] for path in paths] or [tuple(w.shape) for w in model.weights] != [a.shape for a in arrays]:
        raise BadInput(f"{label}: the converted weights do not match the model's")
    model.set_weights(arrays)
    for layer in _layers(model):  # what load_model does after loading: Normalization's mean and variance
        if callable(getattr(layer, "finalize_state", None)):
            layer.finalize_state()
    return model


def _layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _layers(layer)


def _layer_configs(node):
    """(class name, config) of every object in a config, depth first."""
    if isinstance(node, dict):
        if isinstance(node.get("class_name"), str) and isinstance(node.get("config"), dict):
            yield node["class_name"], node["config"]
        for value in node.values():
            yield from _layer_configs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _layer_configs(value)


def _channels_last(config: dict) -> bool:
    formats = {c["data_format"] for _, c in _layer_configs(config) if isinstance(c.get("data_format"), str)}
    return formats != {"channels_first"}


def _ends_in_softmax(model: dict) -> bool:
    """Whether the model's output layer (followed into nested models) is a softmax."""
    layer = _output_layer(model)
    if layer is None:
        return False
    if layer.get("class_name") in ("Sequential", "Functional"):
        return _ends_in_softmax(layer)
    config = layer.get("config") or {}
    return layer.get("class_name") == "Softmax" or config.get("activation") == "softmax"


def _output_layer(model: dict) -> dict | None:
    config = model.get("config") or {}
    layers = [layer for layer in config.get("layers") or [] if isinstance(layer, dict)]
    if model.get("class_name") == "Sequential":
        return layers[-1] if layers else None
    outputs = config.get("output_layers")
    first = outputs[0] if isinstance(outputs, list) and outputs and isinstance(outputs[0], list) else outputs
    name = first[0] if isinstance(first, list) and first else None
    return next((layer for layer in layers if (layer.get("config") or {}).get("name") == name
                 or layer.get("name") == name), None)


def _parameter_count(model) -> int:
    from ..backends.tensorflow.models import parameter_count

    return parameter_count(model)
