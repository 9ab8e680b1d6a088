"""The API clients and fixtures the upload tests share, and the good files only they use (the
malicious files, and the ordinary ones those start from, come from ``tests/hostile_files.py``).
Holds no tests of its own."""

from __future__ import annotations

import json

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


def text_jsonl(rows: int = 20) -> bytes:
    return "".join(json.dumps({"text": f"review number {i}", "label": "pos" if i % 2 else "neg"}) + "\n"
                   for i in range(rows)).encode()
