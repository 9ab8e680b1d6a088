"""Makers of good and malicious upload files, all generated here (nothing is downloaded), and the
API clients the upload tests share. Holds no tests of its own."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.services import user_create


def api_for(username: str):
    user = user_create(username=username, password="correct horse battery", email=f"{username}@example.com")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api, user


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def ada(db, media):
    return api_for("ada")


@pytest.fixture
def bob(db, media):
    return api_for("bob")


def upload(api, route: str, filename: str, content: bytes, **fields):
    return api.post(route, {"file": SimpleUploadedFile(filename, content), **fields}, format="multipart")


# --- good files


def onnx_teacher(features: int = 4, classes: int = 3) -> bytes:
    """A linear classifier ``[batch, features] -> [batch, classes]`` as a valid ONNX model."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.normal(size=(features, classes)).astype(np.float32), "W")
    bias = numpy_helper.from_array(np.zeros(classes, np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["logits"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        initializer=[weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model.SerializeToString()


def tabular_csv(features: int = 4, classes: int = 3, rows: int = 90) -> bytes:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, features))
    labels = np.arange(rows) % classes
    header = ",".join([f"f{i}" for i in range(features)] + ["label"])
    lines = [",".join(f"{v:.4f}" for v in row) + f",c{label}" for row, label in zip(x, labels)]
    return ("\n".join([header, *lines]) + "\n").encode()


def text_jsonl(rows: int = 20) -> bytes:
    return "".join(json.dumps({"text": f"review number {i}", "label": "pos" if i % 2 else "neg"}) + "\n"
                   for i in range(rows)).encode()


def png(width: int = 8, height: int = 8, shade: int = 0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (width, height), color=shade).save(buffer, format="PNG")
    return buffer.getvalue()


def safetensors_bytes(tensors: dict[str, np.ndarray] | None = None) -> bytes:
    from safetensors.numpy import save

    return save(tensors or {"w": np.zeros((2, 2), np.float32)})


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
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3  # /dev/null's numbers; only a header, nothing is created
    return info


def hf_dir_zip(*, config: dict | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    config = config or {"model_type": "bert", "architectures": ["BertForSequenceClassification"]}
    return zip_of({"my-model/config.json": json.dumps(config).encode(), "my-model/model.safetensors": safetensors_bytes(),
                   **{f"my-model/{k}": v for k, v in (extra or {}).items()}})


# --- pickles whose loading would write a canary file


class CanaryPayload:
    def __init__(self, canary) -> None:
        self.canary = str(canary)

    def __reduce__(self):
        return exec, (f"open({self.canary!r}, 'w').write('unpickled')",)


def pickle_payload(canary, protocol: int) -> bytes:
    return pickle.dumps(CanaryPayload(canary), protocol=protocol)  # dumping calls __reduce__, never exec


def torch_zip_payload(canary) -> bytes:
    """The layout of ``torch.save`` (a zip with ``archive/data.pkl``), built without torch."""
    return zip_of({"archive/data.pkl": pickle_payload(canary, 2), "archive/version": b"3\n",
                   "archive/byteorder": b"little"})
