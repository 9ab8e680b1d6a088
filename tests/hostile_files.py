"""Makers of malicious files (and of the ordinary files they are built from or disguised as), for
the safety tests and for ``bench/attacks.py``: pickles whose loading would run code, poisoned
checkpoints, ONNX models whose external data points elsewhere, archives with traversal, links,
devices and bombs, polyglots and misnamed files. Everything is generated; nothing is downloaded.

A payload that ran would write its canary file; a caller checks that the canary never appears.
Imports neither Django nor the bench, so the engine's tests, the upload tests and the bench all
import it. Holds no tests of its own.
"""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import struct
import subprocess
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

MiB = 1 << 20


# --- pickles whose loading would write the canary


class Exec:
    def __init__(self, canary) -> None:
        self.canary = str(canary)

    def __reduce__(self):
        return exec, (f"open({self.canary!r}, 'w').write('unpickled')",)


class System(Exec):
    def __reduce__(self):
        return os.system, (f"touch {self.canary}",)


class Popen(Exec):
    def __reduce__(self):
        return subprocess.Popen, (["touch", self.canary],)


PAYLOADS = {"builtins.exec": Exec, f"{os.system.__module__}.system": System, "subprocess.Popen": Popen}

# protocol 4: push "builtins", memoize it, push "exec", then read "builtins" back from the memo
MEMO_STACK_GLOBAL = (b"\x80\x04" + b"\x8c\x08builtins\x94" + b"\x8c\x04exec\x94" + b"0" + b"h\x00" + b"h\x01" + b"\x93"
                     + b"\x8c\x05print\x85R.")
# the module name is the result of a call, which only running the pickle would reveal
COMPUTED_STACK_GLOBAL = b"\x80\x04" + b"\x8c\x0bcollections\x8c\x0bOrderedDict\x93)R" + b"\x8c\x04exec\x93" + b")R."


def pickle_payload(canary, protocol: int) -> bytes:
    return pickle.dumps(Exec(canary), protocol=protocol)  # dumping calls __reduce__, never exec


def state_dict():
    """A small real state dict (two linear layers and a batch norm)."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 3))
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def save(obj, path, layout: str):
    """``torch.save`` itself, in the zip layout or the legacy single-file one (pickling never runs a payload)."""
    import torch

    torch.save(obj, path, _use_new_zipfile_serialization=layout == "zip")
    return path


def torch_bytes(obj, layout: str = "zip") -> bytes:
    buffer = io.BytesIO()
    save(obj, buffer, layout)
    return buffer.getvalue()


def torch_zip_payload(canary) -> bytes:
    """The layout of ``torch.save`` (a zip with ``archive/data.pkl``), built without torch."""
    return zip_of({"archive/data.pkl": pickle_payload(canary, 2), "archive/version": b"3\n",
                   "archive/byteorder": b"little"})


class _Storage:
    pass


class _HugeTensor:
    def __init__(self, storage, numel: int) -> None:
        self.storage, self.numel = storage, numel

    def __reduce__(self):
        import torch

        return torch._utils._rebuild_tensor_v2, (self.storage, 0, (self.numel,), (1,), False, collections.OrderedDict())


def legacy_checkpoint_claiming(numel: int) -> bytes:
    """The legacy layout by hand: its storage record claims ``numel`` floats, which the loader
    allocates before reading a byte of them."""
    import torch

    storage = _Storage()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", numel, None) if obj is storage else None

    buffer = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True,
                                                  "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(header, buffer, protocol=2)
    Pickler(buffer, protocol=2).dump({"w": _HugeTensor(storage, numel)})
    pickle.dump(["0"], buffer, protocol=2)
    return buffer.getvalue()


def zoo_folder_with_pth(folder: Path, payload=None) -> dict:
    """A zoo MLP folder (architecture.json + model.pth); ``payload`` rides along in the weights."""
    import torch

    from prsm.engine.zoo import build_model

    architecture = {"format": "prsm-zoo/1", "kind": "mlp", "task": "tabular", "classes": ["a", "b", "c"],
                    "config": {"input_dim": 5, "hidden": [4], "dropout": 0.0}}
    torch.manual_seed(1)
    weights = build_model(architecture).state_dict()
    folder.mkdir(parents=True)
    (folder / "architecture.json").write_text(json.dumps(architecture))
    save({**weights, **({"extra": payload} if payload else {})}, folder / "model.pth", "zip")
    return weights


# --- ONNX models whose external data points elsewhere

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


def external_tensor(name: str, location: str):
    """A float tensor of ``CLASSES`` values whose bytes are said to live at ``location``."""
    from onnx import TensorProto, helper

    tensor = helper.make_tensor(name, TensorProto.FLOAT, [CLASSES], [0.0] * CLASSES)
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(4 * CLASSES))):
        tensor.external_data.add(key=key, value=value)
    return tensor


def with_external_constant(location: str, *, subgraph: bool):
    """The linear model plus a Constant node whose value lives at ``location``: at the top, or
    (``subgraph``) inside both branches of an ``If`` node."""
    from onnx import TensorProto, helper

    if not subgraph:
        return linear_model([helper.make_node("Constant", [], ["c"], value=external_tensor("c", location))])
    branch = helper.make_graph([helper.make_node("Constant", [], ["b"], value=external_tensor("b", location))],
                               "branch", [], [helper.make_tensor_value_info("b", TensorProto.FLOAT, [CLASSES])])
    node = helper.make_node("If", ["flag"], ["picked"], then_branch=branch, else_branch=branch)
    return linear_model([node], [helper.make_tensor("flag", TensorProto.BOOL, [], [True])])


# --- archives


def zip_of(entries: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, target)
    return buffer.getvalue()


def tar_of(entries: dict[str, bytes], *, gz: bool = False, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as archive:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        for info in extra or []:
            archive.addfile(info)
    return buffer.getvalue()


def tar_member(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    """A header-only tar member: a link (``SYMTYPE``/``LNKTYPE`` to ``linkname``), a device or a FIFO."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3  # /dev/null's numbers; only a header, nothing is created
    return info


def zip_through_link(folder: str, entries: dict[str, bytes]) -> bytes:
    """``entries``, then a symlink ``b`` to ``folder`` and ``b/canary`` that would land there through it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
        link = zipfile.ZipInfo("b")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, folder)
        archive.writestr("b/canary", b"pwned")
    return buffer.getvalue()


def forged_zip() -> bytes:
    """A stored entry of 1000 bytes whose central directory says 10."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a/1.png", b"x" * 1000)
        archive.writestr("b/1.png", b"y" * 10)
    content = bytearray(buffer.getvalue())
    central = content.index(b"PK\x01\x02")
    content[central + 24:central + 28] = (10).to_bytes(4, "little")
    return bytes(content)


def many_entries_zip(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index in range(count):
            archive.writestr(f"a/{index}.png", b"")
    return buffer.getvalue()


# --- bombs


def deflated_zeros(mib: int) -> bytes:
    """A raw deflate stream of ``mib`` MiB of zeros in about ``mib`` KiB, without compressing them all:
    after a full flush the compressor starts afresh, so each MiB compresses to the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * mib + compressor.flush()


def crc_of_zeros(mib: int, crc: int = 0) -> int:
    zeros = bytes(MiB)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    return crc


def zip_bomb(name: str, mib: int) -> bytes:
    """One deflated entry of ``mib`` MiB of zeros, written by hand (a valid zip, about mib KiB)."""
    data, crc, size, raw = deflated_zeros(mib), crc_of_zeros(mib), mib * MiB, name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw), 0) + raw
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw),
                          0, 0, 0, 0, 0o100644 << 16, 0) + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


def tar_gz_bomb(name: str, mib: int) -> bytes:
    """A tar.gz whose one member is ``mib - 1`` MiB of zeros (the last MiB ends the archive)."""
    info = tarfile.TarInfo(name)
    info.size = (mib - 1) * MiB
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = deflated_zeros(mib)
    crc = crc_of_zeros(mib, zlib.crc32(header))
    total = (len(header) + mib * MiB) & 0xFFFFFFFF
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head + body + struct.pack("<II", crc, total)


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A 1-bit PNG of ``width`` x ``height`` black pixels (400 million by default) in about 50 KiB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte 0 and the row's bits
    compressor = zlib.compressobj(9)
    rows_per_block = max(1, MiB // len(row))
    block = row * rows_per_block
    idat = b"".join(compressor.compress(block) for _ in range(height // rows_per_block))
    idat += compressor.compress(row * (height % rows_per_block)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def images_zip_with_a_bomb() -> bytes:
    """Two classes of images, one of them a PNG bomb."""
    return zip_of({"a/1.png": png_bomb(), "b/1.png": png()})


def huge_field_csv(chars: int) -> bytes:
    return b"text,label\n" + b"x" * chars + b",a\nshort,b\n"


HUGE_FIELD_CSV = huge_field_csv(300_000)
DEEP_JSONL = b'{"text": "ok", "label": "a"}\n{"text": "x", "label": "b", "n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"


# --- code, and files that lie about what they are

ELF = b"\x7fELF\x02\x01\x01" + bytes(200)
AUTO_MAP = {"auto_map": {"AutoModelForSequenceClassification": "modeling_evil.EvilModel"}}


def code_writing(canary) -> str:
    """A Python module that writes the canary when imported."""
    return f"open({str(canary)!r}, 'w').write('imported')\nclass EvilModel: pass\n"


def hf_dir_zip(*, config: dict | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip of a Hugging Face directory (config.json + model.safetensors) plus ``extra`` files."""
    config = config or {"model_type": "bert", "architectures": ["BertForSequenceClassification"]}
    return zip_of({"my-model/config.json": json.dumps(config).encode(), "my-model/model.safetensors": safetensors_bytes(),
                   **{f"my-model/{k}": v for k, v in (extra or {}).items()}})


def tiny_hf_dir(folder: Path, *, config_extra: dict | None = None, files: dict[str, str] | None = None) -> Path:
    """A real 1-layer BERT classifier directory (config, safetensors, tokenizer), plus ``files``."""
    from tests.engine.conftest import tiny_bert_classifier

    model, tokenizer = tiny_bert_classifier()
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    if config_extra:
        saved = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**saved, **config_extra}))
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


# --- the ordinary files the hostile ones start from or pass themselves off as


def png(width: int = 8, height: int = 8, shade: int = 0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (width, height), color=shade).save(buffer, format="PNG")
    return buffer.getvalue()


def tabular_csv(features: int = 4, classes: int = 3, rows: int = 90) -> bytes:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, features))
    labels = np.arange(rows) % classes
    header = ",".join([f"f{i}" for i in range(features)] + ["label"])
    lines = [",".join(f"{v:.4f}" for v in row) + f",c{label}" for row, label in zip(x, labels)]
    return ("\n".join([header, *lines]) + "\n").encode()


def safetensors_bytes(tensors: dict[str, np.ndarray] | None = None) -> bytes:
    from safetensors.numpy import save

    return save(tensors or {"w": np.zeros((2, 2), np.float32)})
