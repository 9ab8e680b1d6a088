"""A teacher's analysis names the uploads by the ids their owner was given, never by where the server
keeps them: no absolute path in the analysis, its error, or anything the analysis route answers."""

from django.conf import settings

from distillation.tasks import teacher_analyze

from tests.hostile_files import tabular_csv

from .test_uploads_fixtures import ada, media, onnx_teacher, upload  # noqa: F401 - fixtures

TEACHERS = "/api/v1/teachers/"


def _no_server_path(response):
    text = response.content.decode()
    for root in {str(settings.MEDIA_ROOT), str(settings.MEDIA_ROOT.resolve())}:
        assert root not in text, text
    assert "uploads/" not in text, text


def test_the_analysis_names_the_teacher_and_data_by_their_ids(ada, media):
    api, _ = ada
    dataset = upload(api, "/api/v1/datasets/", "iris.csv", tabular_csv()).json()["id"]
    teacher = upload(api, TEACHERS, "model.onnx", onnx_teacher(), dataset=dataset).json()["id"]

    teacher_analyze(teacher)

    response = api.get(f"{TEACHERS}{teacher}/analysis/")
    assert response.status_code == 200, response.content
    analysis = response.json()["analysis"]
    assert (analysis["ref"], analysis["data"]["ref"]) == (teacher, dataset)
    _no_server_path(response)


def test_an_analysis_error_shows_no_server_path_either(ada, media):
    api, _ = ada
    dataset = upload(api, "/api/v1/datasets/", "iris.csv", tabular_csv()).json()["id"]
    teacher = upload(api, TEACHERS, "model.onnx", onnx_teacher(features=7), dataset=dataset).json()["id"]

    teacher_analyze(teacher)

    response = api.get(f"{TEACHERS}{teacher}/analysis/")
    assert response.status_code == 200, response.content
    assert response.json()["analysis_error"], response.json()  # 7 inputs against the data's 4 columns
    _no_server_path(response)
