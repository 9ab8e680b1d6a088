"""Teacher uploads: what is accepted, what is refused and why, and who sees what."""

import pytest

from distillation.models import Teacher
from distillation.tasks import teacher_analyze

from tests.hostile_files import (
    ELF,
    hf_dir_zip,
    pickle_payload,
    safetensors_bytes,
    tabular_csv,
    tar_of,
    torch_zip_payload,
    zip_of,
)

from .test_uploads_fixtures import ada, bob, media, onnx_teacher, upload  # noqa: F401 - fixtures

TEACHERS = "/api/v1/teachers/"


def _refused(response, *words, status=400):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["field"] == "file"
    for word in words:
        assert word in error["message"], error["message"]
    return error["message"]


def test_an_onnx_teacher_is_stored_by_id_then_loaded_and_analysed_by_the_actor(ada, media):
    api, user = ada
    dataset = upload(api, "/api/v1/datasets/", "iris.csv", tabular_csv()).json()["id"]

    response = upload(api, TEACHERS, "../../evil name.onnx", onnx_teacher(), name="linear", dataset=dataset)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "uploaded" and body["kind"] == "onnx" and body["name"] == "linear"
    teacher = Teacher.objects.get(public_id=body["id"])
    assert teacher.path == f"uploads/teachers/{teacher.public_id}/model.onnx"
    assert (media / teacher.path).is_file() and not list(media.rglob("*evil*"))
    pending = api.get(f"{TEACHERS}{body['id']}/analysis/")
    assert (pending.status_code, pending.json()["error"]["code"], pending.json()["status"]) == (409, "analysis_pending",
                                                                                                "uploaded")

    teacher_analyze(body["id"])  # what the worker runs (a real worker does it in test_uploads_worker)

    analysis = api.get(f"{TEACHERS}{body['id']}/analysis/")
    assert analysis.status_code == 200, analysis.content
    assert analysis.json()["status"] == "ready"
    assert analysis.json()["analysis"]["quality"]["accuracy"] is not None
    listed = api.get(TEACHERS).json()
    assert [(t["id"], t["task"], t["params"]) for t in listed] == [(body["id"], "tabular", 15)]


def test_a_zoo_folder_in_a_tar_gz_is_a_teacher(ada):
    import json

    api, _ = ada
    architecture = {"format": "prsm-zoo/1", "kind": "mlp", "task": "tabular", "classes": ["a", "b"],
                    "config": {"input_dim": 3, "hidden": [4], "dropout": 0.0}}
    from prsm.engine.zoo import build_model, save_zoo_model

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        save_zoo_model(build_model(architecture), architecture, folder)
        files = {f"zoo/{p.name}": p.read_bytes() for p in Path(folder).iterdir()}

    response = upload(api, TEACHERS, "model.tgz", tar_of(files, gz=True))

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "zoo"
    teacher_analyze(response.json()["id"])
    teacher = Teacher.objects.get(public_id=response.json()["id"])
    assert (teacher.status, teacher.task, teacher.classes) == ("ready", "tabular", ["a", "b"])
    assert json.dumps(teacher.analysis)


@pytest.mark.parametrize("layout", ["protocol-2 .pth", "protocol-0 .bin", "torch zip .pt"])
def test_it_refuses_a_pickle_teacher_without_ever_unpickling_it(ada, media, tmp_path, layout):
    api, _ = ada
    canary = tmp_path / "canary"
    content = {"protocol-2 .pth": lambda: pickle_payload(canary, 2), "protocol-0 .bin": lambda: pickle_payload(canary, 0),
               "torch zip .pt": lambda: torch_zip_payload(canary)}[layout]()
    name = "model" + layout.rsplit(" ", 1)[1]

    response = upload(api, TEACHERS, name, content)

    _refused(response, "pickle")
    assert not canary.exists()
    assert not Teacher.objects.exists()
    assert not any(p.is_file() for p in media.rglob("*")), "a refused upload leaves no file behind"


def test_it_refuses_a_hugging_face_directory_that_needs_custom_code(ada):
    api, _ = ada
    config = {"model_type": "bert", "architectures": ["BertForSequenceClassification"],
              "auto_map": {"AutoModelForSequenceClassification": "modeling_evil.EvilModel"}}

    _refused(upload(api, TEACHERS, "bert.zip", hf_dir_zip(config=config)), "auto_map")
    _refused(upload(api, TEACHERS, "bert.zip", hf_dir_zip(extra={"modeling_evil.py": b"import os"})), "code")
    _refused(upload(api, TEACHERS, "bert.zip", hf_dir_zip(extra={"pytorch_model.bin": pickle_payload("x", 2)})), "pickle")


def test_it_goes_by_the_content_not_by_a_name_that_lies(ada):
    api, _ = ada

    _refused(upload(api, TEACHERS, "model.onnx", tabular_csv()), "text file", "not a teacher")
    _refused(upload(api, TEACHERS, "model.onnx", ELF), "unknown type")
    _refused(upload(api, TEACHERS, "model.onnx", b"\x08\x07" + bytes(100)), "not a valid ONNX model")
    _refused(upload(api, TEACHERS, "weights.safetensors", safetensors_bytes()), "safetensors file alone")
    # an ONNX model named like a zip is still an ONNX model
    assert upload(api, TEACHERS, "model.zip", onnx_teacher()).json()["kind"] == "onnx"


def test_it_refuses_an_archive_that_is_not_a_teacher_or_not_safe(ada):
    api, _ = ada

    _refused(upload(api, TEACHERS, "model.zip", zip_of({"readme.txt": b"hello"})), "no teacher")
    _refused(upload(api, TEACHERS, "model.zip", zip_of({"../config.json": b"{}"})), "archive refused", "..")
    bad = zip_of({"m/config.json": b"{}", "m/model.safetensors": b"\xff" * 8 + b"{}"})
    _refused(upload(api, TEACHERS, "model.zip", bad), "safetensors")


def test_a_teacher_past_the_size_limit_is_a_413(ada, settings):
    api, _ = ada
    settings.UPLOAD_MAX_TEACHER_BYTES = 1000

    streamed = upload(api, TEACHERS, "model.onnx", onnx_teacher(features=512))  # caught while the body streams
    declared = upload(api, TEACHERS, "model.onnx", bytes(200_000))  # caught from Content-Length, before parsing

    for response in (streamed, declared):
        _refused(response, "larger than", status=413)
        assert response.json()["error"]["code"] == "too_large"
    assert not Teacher.objects.exists()


def test_another_users_teacher_is_invisible(ada, bob):
    api, _ = ada
    other, _ = bob
    teacher_id = upload(api, TEACHERS, "model.onnx", onnx_teacher()).json()["id"]
    teacher_analyze(teacher_id)

    assert other.get(f"{TEACHERS}{teacher_id}/analysis/").status_code == 404
    assert other.get(TEACHERS).json() == []
    assert api.get(f"{TEACHERS}{teacher_id}/analysis/").status_code == 200


def test_a_teacher_the_engine_cannot_load_is_rejected_with_the_reason(ada, media):
    api, _ = ada
    # passes onnx.checker (a valid graph) but takes an int64 input, which a teacher cannot
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.INT64, ["batch", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, ["batch", 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    teacher_id = upload(api, TEACHERS, "model.onnx", model.SerializeToString()).json()["id"]

    teacher_analyze(teacher_id)

    body = api.get(f"{TEACHERS}{teacher_id}/analysis/").json()
    assert body["status"] == "rejected" and "float32" in body["status_reason"]
    assert onnx  # imported for the model above


def _keras_file(tmp_path, hostile: bool = False) -> bytes:
    """A small Keras classifier ``[batch, 4] -> [batch, 3]`` saved as .keras; ``hostile`` adds a Lambda layer."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    inputs = keras.Input((4,))
    x = keras.layers.Dense(8, activation="relu")(inputs)
    if hostile:
        x = keras.layers.Lambda(lambda t: t * 2)(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    path = tmp_path / "model.keras"
    model.save(path)
    return path.read_bytes()


@pytest.mark.slow
def test_a_keras_teacher_is_checked_kept_and_analysed_and_a_lambda_or_h5_is_refused(ada, media, tmp_path):
    api, user = ada
    dataset = upload(api, "/api/v1/datasets/", "iris.csv", tabular_csv()).json()["id"]

    response = upload(api, TEACHERS, "mine.keras", _keras_file(tmp_path), name="dense", dataset=dataset)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "keras"
    teacher = Teacher.objects.get(public_id=body["id"])
    assert teacher.path.endswith("/model.keras") and (media / teacher.path).is_file()
    teacher_analyze(body["id"])
    analysis = api.get(f"{TEACHERS}{body['id']}/analysis/")
    assert analysis.status_code == 200 and analysis.json()["status"] == "ready", analysis.content
    assert api.get(TEACHERS).json()[0]["params"] == 4 * 8 + 8 + 8 * 3 + 3

    (tmp_path / "lambda").mkdir()
    _refused(upload(api, TEACHERS, "evil.keras", _keras_file(tmp_path / "lambda", hostile=True)), "Lambda")
    _refused(upload(api, TEACHERS, "old.h5", b"\x89HDF\r\n\x1a\n" + bytes(512)), "HDF5", ".keras")
