"""ONNX teachers with external data, uploaded as a zip or tar of the model's folder: accepted when
the data stays beside the model, refused with the offending location when it does not."""

from __future__ import annotations

import tempfile
from pathlib import Path

from distillation.models import Teacher
from distillation.tasks import teacher_analyze

from tests.hostile_files import point_at, save_split, tabular_csv, tar_of, zip_of

from .test_uploads_fixtures import ada, media, onnx_teacher, upload  # noqa: F401 - fixtures

TEACHERS = "/api/v1/teachers/"


def split_onnx(location: str | None = None) -> dict[str, bytes]:
    """``model.onnx`` + ``model.onnx.data`` of the 4-feature, 3-class linear teacher; with
    ``location``, the weights' external-data location is rewritten to it."""
    import onnx

    with tempfile.TemporaryDirectory() as folder:
        path = save_split(onnx.load_from_string(onnx_teacher()), Path(folder))
        if location is not None:
            point_at(path, location)
        return {"model.onnx": path.read_bytes(), "model.onnx.data": (Path(folder) / "model.onnx.data").read_bytes()}


def _refused(response, *words):
    assert response.status_code == 400, response.content
    message = response.json()["error"]["message"]
    for word in words:
        assert word in message, message
    assert "\n" not in message
    return message


def test_a_model_and_its_data_file_in_a_zip_are_a_teacher_the_worker_loads(ada, media):
    api, _ = ada
    dataset = upload(api, "/api/v1/datasets/", "rows.csv", tabular_csv()).json()["id"]
    files = {f"linear/{name}": content for name, content in split_onnx().items()}

    response = upload(api, TEACHERS, "linear.zip", zip_of(files), dataset=dataset)

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "onnx"
    teacher = Teacher.objects.get(public_id=response.json()["id"])
    assert (media / teacher.path).name == "model.onnx" and (media / teacher.path).with_suffix(".onnx.data").is_file()
    teacher_analyze(response.json()["id"])
    teacher.refresh_from_db()
    assert (teacher.status, teacher.task, teacher.params) == ("ready", "tabular", 15), teacher.status_reason


def test_it_refuses_data_that_points_out_of_the_models_folder(ada, media):
    api, _ = ada
    split = split_onnx(location="../secret")
    # the file it names is in the archive, one folder above the model: still outside the model's folder
    archive = tar_of({"pack/m/model.onnx": split["model.onnx"], "pack/secret": split["model.onnx.data"]})

    _refused(upload(api, TEACHERS, "model.tar", archive), "model.onnx: tensor 'W'", "'../secret'", "leaves the model's folder")
    assert not Teacher.objects.exists()
    assert not any(p.is_file() for p in media.rglob("*")), "a refused upload leaves no file behind"


def test_it_refuses_an_absolute_data_path_and_a_lone_model_whose_data_is_missing(ada):
    api, _ = ada
    split = split_onnx(location="/etc/passwd")

    _refused(upload(api, TEACHERS, "model.zip", zip_of(split)), "'/etc/passwd'", "absolute path")
    _refused(upload(api, TEACHERS, "model.onnx", split_onnx()["model.onnx"]), "'model.onnx.data' is missing")
