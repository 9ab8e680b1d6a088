"""Through a real broker and a real worker: the upload's analysis is done by the teacher_analyze actor."""

import shutil

from distillation.models import Teacher
from distillation.uploads import upload_folder
from tests.fixtures import wait_for
from tests.hostile_files import tabular_csv

from .test_uploads_fixtures import api_for, onnx_teacher, upload


def test_a_worker_loads_and_analyses_an_uploaded_teacher(start_worker, request):
    # The worker reads the test settings' MEDIA_ROOT, so this test stores there and cleans up after itself.
    api, _ = api_for("ada")
    dataset = upload(api, "/api/v1/datasets/", "data.csv", tabular_csv()).json()["id"]
    request.addfinalizer(lambda: shutil.rmtree(upload_folder("datasets", dataset), ignore_errors=True))
    created = upload(api, "/api/v1/teachers/", "model.onnx", onnx_teacher(), dataset=dataset)
    assert created.status_code == 201, created.content
    teacher_id = created.json()["id"]
    request.addfinalizer(lambda: shutil.rmtree(upload_folder("teachers", teacher_id), ignore_errors=True))

    start_worker()

    def analysed():
        response = api.get(f"/api/v1/teachers/{teacher_id}/analysis/")
        return response if response.status_code == 200 else None

    body = wait_for(analysed, 90, "the worker to analyse the teacher", interval=0.5).json()
    assert body["status"] == "ready" and body["analysis_error"] == ""
    assert body["analysis"]["data"]["sha256"]
    assert 0 <= body["analysis"]["quality"]["accuracy"] <= 1
    assert Teacher.objects.get(public_id=teacher_id).analyzed_at is not None
