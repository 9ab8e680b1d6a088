"""Uploaded teachers and data sets are used in distillation requests by id, by their owner only."""

from distillation.models import DistillationJob
from distillation.tasks import teacher_analyze

from tests.hostile_files import tabular_csv

from .test_uploads_fixtures import ada, bob, media, onnx_teacher, upload  # noqa: F401

BODY = {"domain": "tabular", "budget_ftns": 1000, "epochs": 2}


def _ready_teacher_and_dataset(api):
    dataset = upload(api, "/api/v1/datasets/", "data.csv", tabular_csv()).json()["id"]
    teacher = upload(api, "/api/v1/teachers/", "model.onnx", onnx_teacher()).json()["id"]
    teacher_analyze(teacher)
    return teacher, dataset


def test_an_uploaded_onnx_teacher_and_csv_dataset_make_a_job_by_id(ada, media):
    api, _ = ada
    teacher, dataset = _ready_teacher_and_dataset(api)

    response = api.post("/api/v1/distillations/", {**BODY, "teacher_model": teacher, "dataset": dataset}, format="json")

    assert response.status_code == 201, response.content
    job = DistillationJob.objects.get(job_id=response.json()["job_id"])
    assert job.request["teacher_model"] == teacher and job.backend == "pytorch"
    assert job.engine_config["teacher"] == str(media / "uploads" / "teachers" / teacher / "model.onnx")
    assert job.engine_config["data"] == str(media / "uploads" / "datasets" / dataset / "data.csv")
    assert str(media) not in str(response.json()), "server paths stay on the server"


def test_another_users_uploads_cannot_be_used(ada, bob):
    api, _ = ada
    other, _ = bob
    teacher, dataset = _ready_teacher_and_dataset(api)
    own_teacher, own_dataset = _ready_teacher_and_dataset(other)

    as_teacher = other.post("/api/v1/distillations/", {**BODY, "teacher_model": teacher, "dataset": own_dataset}, format="json")
    as_dataset = other.post("/api/v1/distillations/", {**BODY, "teacher_model": own_teacher, "dataset": dataset}, format="json")

    assert (as_teacher.status_code, as_teacher.json()["error"]["field"]) == (400, "teacher_model")
    assert (as_dataset.status_code, as_dataset.json()["error"]["field"]) == (400, "dataset")
    assert not DistillationJob.objects.exists()


def test_a_teacher_still_being_checked_is_refused_with_its_state(ada):
    api, _ = ada
    dataset = upload(api, "/api/v1/datasets/", "data.csv", tabular_csv()).json()["id"]
    teacher = upload(api, "/api/v1/teachers/", "model.onnx", onnx_teacher()).json()["id"]

    response = api.post("/api/v1/distillations/", {**BODY, "teacher_model": teacher, "dataset": dataset}, format="json")

    assert response.status_code == 400
    assert "still being checked" in response.json()["error"]["message"]


def test_a_teacher_whose_data_does_not_fit_is_refused(ada):
    api, _ = ada
    teacher, _ = _ready_teacher_and_dataset(api)
    text = upload(api, "/api/v1/datasets/", "t.csv", b"text,label\ngood,pos\nbad,neg\n").json()["id"]

    response = api.post("/api/v1/distillations/", {**BODY, "teacher_model": teacher, "dataset": text}, format="json")

    assert (response.status_code, response.json()["error"]["field"]) == (400, "dataset")
    assert "tabular" in response.json()["error"]["message"]


def test_augmentation_for_another_kind_of_data_than_the_uploaded_teachers_is_refused_by_field(ada):
    api, _ = ada
    teacher, dataset = _ready_teacher_and_dataset(api)  # a tabular ONNX teacher

    response = api.post("/api/v1/distillations/estimate/", {**BODY, "teacher_model": teacher, "dataset": dataset,
                                                            "augmentation_techniques": ["token_mask"]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "augmentation_techniques"
    assert "text data; the teacher takes tabular data" in response.json()["error"]["message"]
