"""An ONNX file checked before anything runs it: its external data stays inside the model's folder,
and the model passes ``onnx.checker``.

A tensor may keep its bytes in another file (``data_location = EXTERNAL`` with ``location``,
``offset`` and ``length`` entries), and a runtime reads whatever file that names. A model from
someone else could name ``../../home/x/.ssh/id_rsa``, an absolute path, or a link placed beside
it, and a runtime whose own guard is missing or different would read it. So every such tensor
(initializers, sparse initializers, tensors in node attributes, subgraphs and functions) must name
a plain relative path whose every component is a real, non-link entry inside the model's folder,
and its bytes must lie within that file. Only then does ``onnx.checker`` see the model, by path,
so that it checks the external data too.

Imports only onnx: the upload service runs it in the confined child of ``untrusted.sandbox`` (no
network, no writes, limits on memory and CPU time), with onnx imported before the limits.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

from .errors import BadInput

EXTERNAL_KEYS = ("location", "offset", "length")


def check_onnx_file(path: Path | str) -> list[Path]:
    """Refuse (``BadInput``, one line naming the file and the offending location) an ONNX file whose
    external data leaves its folder or the checker rejects; return the external data files it uses."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001 - protobuf and onnx raise several types for a corrupt file
        raise BadInput(f"{path.name}: not a valid ONNX model (it does not parse: {_first_line(error)})") from None
    try:
        tensors = list(_tensors(model))
    except RecursionError:
        raise BadInput(f"{path.name}: its subgraphs are nested too deeply") from None
    files = {_external_file(path, tensor) for tensor in tensors if _is_external(tensor)}
    try:
        onnx.checker.check_model(str(path))
    except Exception as error:  # noqa: BLE001 - ValidationError, or a C++ error surfaced as another type
        raise BadInput(f"{path.name}: not a valid ONNX model ({_first_line(error)})") from None
    return sorted(files)


def _is_external(tensor) -> bool:
    from onnx import TensorProto

    # entries without the flag are ignored by the runtimes today; refused the same, in case one reads them
    return tensor.data_location == TensorProto.EXTERNAL or len(tensor.external_data) > 0


def _external_file(model_path: Path, tensor) -> Path:
    entries = {entry.key: entry.value for entry in tensor.external_data}
    where = f"{model_path.name}: tensor {tensor.name!r}"
    location = entries.get("location", "")[:200]  # quoted in messages; a longer name is refused anyway
    _check_location_text(entries.get("location", ""), where)
    folder = model_path.absolute().parent
    target = _walk_inside(folder, location, where)
    size = target.stat().st_size
    offset, length = _whole(entries, "offset", where), _whole(entries, "length", where)
    end = (offset or 0) + (length if length is not None else 0)
    if (offset or 0) > size or end > size:
        raise BadInput(f"{where}: external data {_quoted(location)} asks for bytes {offset or 0}..{end}, "
                       f"past the end of the {size}-byte file")
    return target


def _check_location_text(location: str, where: str) -> None:
    if not location:
        raise BadInput(f"{where}: external data without a location")
    if "\x00" in location:
        raise BadInput(f"{where}: external data location {_quoted(location)} contains a NUL byte")
    windows = PureWindowsPath(location)
    if location.startswith(("/", "\\")) or PurePosixPath(location).is_absolute() or windows.drive or windows.root:
        raise BadInput(f"{where}: external data location {_quoted(location)} is an absolute path; "
                       "it must be relative to the model's folder")
    if ".." in re.split(r"[\\/]", location):
        raise BadInput(f"{where}: external data location {_quoted(location)} leaves the model's folder ('..')")


def _walk_inside(folder: Path, location: str, where: str) -> Path:
    """The file ``location`` names, reached one component at a time, none of them a link."""
    current = folder
    for part in PurePosixPath(location).parts:
        if part == ".":
            continue
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            raise BadInput(f"{where}: external data file {_quoted(location)} is missing beside the model") from None
        if stat.S_ISLNK(mode):
            raise BadInput(f"{where}: external data location {_quoted(location)} goes through a link; "
                           "links are refused")
    if current == folder or not stat.S_ISREG(os.lstat(current).st_mode):
        raise BadInput(f"{where}: external data location {_quoted(location)} is not a regular file")
    if not current.resolve().is_relative_to(folder.resolve()):  # cannot happen without links or '..'; checked anyway
        raise BadInput(f"{where}: external data location {_quoted(location)} leaves the model's folder")
    return current


def _whole(entries: dict, key: str, where: str) -> int | None:
    if key not in entries:
        return None
    value = entries[key]
    if not value.isdigit():
        raise BadInput(f"{where}: external data {key} {value!r} is not a whole number of bytes")
    return int(value)


def _tensors(model) -> Iterator:
    """Every TensorProto of the model: initializers, sparse ones, attributes, subgraphs, functions."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        yield from _node_tensors(function.node)


def _graph_tensors(graph) -> Iterator:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    yield from _node_tensors(graph.node)


def _node_tensors(nodes) -> Iterator:
    for node in nodes:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            sparse = ([attribute.sparse_tensor] if attribute.HasField("sparse_tensor") else []) + list(attribute.sparse_tensors)
            for tensor in sparse:
                yield from (tensor.values, tensor.indices)
            if attribute.HasField("g"):
                yield from _graph_tensors(attribute.g)
            for graph in attribute.graphs:
                yield from _graph_tensors(graph)


def _quoted(location: str) -> str:
    return repr(location if len(location) <= 120 else location[:120] + "...")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
