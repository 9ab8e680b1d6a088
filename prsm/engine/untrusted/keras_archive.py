"""A ``.keras`` file read without deserialising anything: its members, its ``config.json`` walked as
plain JSON, and a repacked copy holding only what was checked.

A ``.keras`` file is a zip of ``config.json`` (the model, as nested ``{"module", "class_name",
"config", "registered_name"}`` objects that ``keras.saving`` turns into classes and calls),
``metadata.json`` and ``model.weights.h5``. Keras' own ``safe_mode`` refuses a Python lambda, but
any importable Keras class, any class registered as a custom object and ``TFSMLayer`` (which loads a
SavedModel graph from a path) still load. So before Keras sees it:

- the zip holds exactly those three members (no assets, no ``.npz`` weights), no member name
  outside the archive, no link, no member past its size limit or expanding far beyond its stored size;
- every object in the config is one of the built-in layers below, a Sequential or Functional model,
  or a built-in initializer, regularizer, constraint, dtype policy or activation, from a ``keras``
  module and with no ``registered_name`` of its own (a custom object's ``package>Name``);
- no string in it looks like a path outside the archive (absolute, ``~``, ``..``, a URL).

``repack_keras_archive`` writes the checked config (training settings dropped: teachers load with
``compile=False``) and the original weights member into a new ``.keras`` file: what the confined
child loads is exactly what was checked.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import BadInput

CONFIG, METADATA, WEIGHTS_H5 = "config.json", "metadata.json", "model.weights.h5"
MEMBERS = (CONFIG, METADATA, WEIGHTS_H5)

LAYERS = frozenset({
    "InputLayer", "Dense", "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Flatten", "Dropout",
    "BatchNormalization", "LayerNormalization", "Activation", "ReLU", "Softmax", "Embedding", "Reshape", "Permute",
    "Add", "Concatenate", "Rescaling", "Normalization", "LSTM", "GRU", "Bidirectional", "MultiHeadAttention"})
MODELS = frozenset({"Sequential", "Functional"})
# what each Keras module may contribute, by class name (the layers above, models, and their parts)
ACCEPTED = {
    "keras.layers": LAYERS,
    "keras": MODELS | {"DTypePolicy", "FloatDTypePolicy"},
    "keras.src.models.functional": frozenset({"Functional"}),
    "keras.src.models.sequential": frozenset({"Sequential"}),
    "keras.initializers": frozenset({"Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
                                     "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal", "RandomUniform",
                                     "TruncatedNormal", "VarianceScaling", "Zeros"}),
    "keras.regularizers": frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"}),
    "keras.constraints": frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"}),
    "keras.dtype_policies": frozenset({"DTypePolicy", "FloatDTypePolicy"}),
}
ACTIVATIONS = frozenset({
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu",
    "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus",
    "swish", "tanh", "tanh_shrink", "threshold"})
FUNCTION_MODULES = frozenset({"builtins", "keras.activations", "keras.src.activations.activations"})
# plain values Keras writes as objects: a tensor, an array, bytes, a slice, a link between layers
VALUES = frozenset({"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__"})
REFUSED_LAYERS = {
    "Lambda": "a Lambda layer runs Python code saved in the file",
    "TFSMLayer": "a TFSMLayer loads a TensorFlow SavedModel (a graph that can read and write files) from a path",
}
WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True)
class KerasLimits:
    max_config_bytes: int = 16 << 20
    max_metadata_bytes: int = 1 << 20
    max_weights_bytes: int = 8 << 30
    max_expansion: int = 100  # uncompressed / stored; Keras stores members uncompressed (1:1)
    max_depth: int = 200  # nesting of the config's JSON
    memory_headroom_bytes: int = 1 << 30  # address space beyond the child's own once TensorFlow is imported, plus 3x the file
    max_memory_bytes: int = 48 << 30
    cpu_seconds: int = 300
    wall_seconds: float = 600
    open_files: int = 64


DEFAULT_LIMITS = KerasLimits()


@dataclass(frozen=True)
class KerasArchive:
    config: dict  # checked, training settings dropped
    metadata: dict
    labels: list[str] | None  # a ``labels`` JSON list in metadata.json: the teacher's class order


def check_keras_archive(path: Path, limits: KerasLimits = DEFAULT_LIMITS, label: str | None = None) -> KerasArchive:
    """The checked config and metadata of the ``.keras`` file at ``path``; ``BadInput`` naming the
    member, layer or value that is refused otherwise."""
    label = label or path.name
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(archive.infolist(), limits, label)
            config = _json_member(archive, CONFIG, limits.max_config_bytes, label)
            names = archive.namelist()
            metadata = _json_member(archive, METADATA, limits.max_metadata_bytes, label) if METADATA in names else {}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as error:
        raise BadInput(f"{label}: not a readable .keras archive ({error})") from None
    config = without_training_settings(config)
    check_keras_config(config, label)
    return KerasArchive(config=config, metadata=metadata, labels=_labels(metadata, label))


def check_keras_config(config, label: str, max_depth: int = KerasLimits.max_depth) -> None:
    """Refuse a config that names anything but the accepted built-in Keras objects (see the module)."""
    if not isinstance(config, dict) or config.get("class_name") not in MODELS:
        raise BadInput(f"{label}: refused: config.json does not describe a Sequential or Functional model")
    _walk(config, label, "the model", 0, max_depth)


def without_training_settings(config):
    """The config without ``compile_config`` (optimizer, loss, metrics) at any depth: a teacher is
    loaded with ``compile=False``, and a nested model's settings would be deserialised all the same."""
    if isinstance(config, dict):
        return {key: without_training_settings(value) for key, value in config.items() if key != "compile_config"}
    if isinstance(config, list):
        return [without_training_settings(value) for value in config]
    return config


def repack_keras_archive(source: Path, checked: KerasArchive, target: Path) -> Path:
    """A new ``.keras`` file at ``target``: the checked config and metadata, and the weights member
    of ``source`` copied byte for byte (``check_keras_archive`` passed it)."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
        out.writestr(METADATA, json.dumps(checked.metadata))
        out.writestr(CONFIG, json.dumps(checked.config))
        with archive.open(WEIGHTS_H5) as weights, out.open(WEIGHTS_H5, "w", force_zip64=True) as copy:
            shutil.copyfileobj(weights, copy, length=1 << 20)
    return target


def _check_members(members: list[zipfile.ZipInfo], limits: KerasLimits, label: str) -> None:
    sizes = {CONFIG: limits.max_config_bytes, METADATA: limits.max_metadata_bytes, WEIGHTS_H5: limits.max_weights_bytes}
    seen = set()
    for member in members:
        name = member.filename
        if _outside(name):
            raise BadInput(f"{label}: refused: the archive member {name!r} points outside the archive")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise BadInput(f"{label}: refused: the archive member {name!r} is a link")
        if name not in sizes:
            raise BadInput(f"{label}: refused: the archive holds {name!r}; a .keras teacher holds only "
                           f"{', '.join(MEMBERS)} (no assets, no .npz weights)")
        if name in seen:
            raise BadInput(f"{label}: refused: the archive holds {name!r} twice")
        seen.add(name)
        if member.file_size > sizes[name]:
            raise BadInput(f"{label}: refused: {name} holds {member.file_size} bytes, more than the {sizes[name]} accepted")
        if member.file_size > limits.max_expansion * member.compress_size + (1 << 20):
            raise BadInput(f"{label}: refused: {name} expands {member.file_size // max(member.compress_size, 1)} times "
                           "(a decompression bomb?)")
    missing = [name for name in (CONFIG, WEIGHTS_H5) if name not in seen]
    if missing:
        raise BadInput(f"{label}: refused: the archive has no {missing[0]}; save the model with model.save('name.keras')")


def _outside(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return not name or path.is_absolute() or ".." in path.parts or bool(WINDOWS_DRIVE.match(name))


def _json_member(archive: zipfile.ZipFile, name: str, max_bytes: int, label: str):
    with archive.open(name) as stream:
        raw = stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise BadInput(f"{label}: refused: {name} is larger than the {max_bytes} bytes accepted")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadInput(f"{label}: refused: {name} is not JSON") from None


def _labels(metadata, label: str) -> list[str] | None:
    if not isinstance(metadata, dict):
        raise BadInput(f"{label}: refused: metadata.json is not a JSON object")
    labels = metadata.get("labels")
    if labels is None:
        return None
    if not isinstance(labels, list) or not labels or not all(isinstance(name, (str, int)) for name in labels):
        raise BadInput(f"{label}: metadata.json 'labels' is not a JSON list of class names")
    return [str(name) for name in labels]


def _walk(node, label: str, layer: str, depth: int, max_depth: int) -> None:
    """Every value of ``node``; ``layer`` names the layer the value sits in, for the messages."""
    if depth > max_depth:
        raise BadInput(f"{label}: refused: config.json is nested more than {max_depth} deep")
    if isinstance(node, str):
        _check_string(node, label, layer)
    elif isinstance(node, list):
        for item in node:
            _walk(item, label, layer, depth + 1, max_depth)
    elif isinstance(node, dict):
        if "class_name" in node:
            layer = _check_object(node, label, layer)
        for key, value in node.items():
            if key in ("activation", "recurrent_activation") and isinstance(value, str) and value not in ACTIVATIONS:
                raise BadInput(f"{label}: refused: {layer} uses the activation {value!r}, which is not a built-in one")
            _walk(value, label, layer, depth + 1, max_depth)


def _check_object(node: dict, label: str, layer: str) -> str:
    """Refuse an object that is not accepted; return the name to use for the layer it is, or sits in."""
    name, module, registered = node.get("class_name"), node.get("module"), node.get("registered_name")
    if not isinstance(name, str):
        raise BadInput(f"{label}: refused: {layer} holds an object whose class_name is not a name")
    if name in VALUES:
        return layer
    if name == "__lambda__":
        raise BadInput(f"{label}: refused: {layer} holds a Python lambda (code saved in the file)")
    if name.startswith("__"):
        raise BadInput(f"{label}: refused: {layer} holds a {name} object, which is not accepted")
    if name == "function":
        function = node.get("config")
        if module not in FUNCTION_MODULES or function not in ACTIVATIONS or registered not in (None, function):
            raise BadInput(f"{label}: refused: {layer} uses the function {function!r} from {module!r}, "
                           "which is not a built-in activation")
        return layer
    inner = node.get("config") if isinstance(node.get("config"), dict) else {}
    own = f"{name} {inner['name']!r}" if isinstance(inner.get("name"), str) else f"{name} in {layer}"
    if name in REFUSED_LAYERS:
        raise BadInput(f"{label}: refused: {own}: {REFUSED_LAYERS[name]}")
    if registered not in (None, name) or not isinstance(module, str) or not (module == "keras" or module.startswith("keras.")):
        raise BadInput(f"{label}: refused: {own} is a custom object (module {module!r}, registered as {registered!r}); "
                       "only built-in Keras layers are accepted")
    if name not in ACCEPTED.get(module, ()):
        kind = "a built-in layer" if module == "keras.layers" else "an object"
        raise BadInput(f"{label}: refused: {own} ({module}.{name}) is not {kind} a teacher may use")
    return own if isinstance(inner.get("name"), str) else layer


def _check_string(value: str, label: str, layer: str) -> None:
    if ">" in value:  # how a registered custom object is named: "package>Name"
        raise BadInput(f"{label}: refused: {layer} names {value[:80]!r}, a registered custom object")
    looks_like_a_path = "/" in value or "\\" in value or value.startswith("~")
    if looks_like_a_path and (_outside(value) or value.startswith("~") or "://" in value):
        raise BadInput(f"{label}: refused: {layer} holds the path {value[:80]!r}, outside the archive")
