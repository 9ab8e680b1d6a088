import pytest
from rest_framework.authtoken.models import Token

from accounts.services import user_create
from distillation.models import DistillationJob
from tests.fixtures import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_jobs_go_to_the_gpu_queue_while_a_worker_listens_there(catalog_home, client, start_worker):
    worker = start_worker(queues=("gpu",))  # scripts/worker.sh adds this queue where PyTorch sees CUDA
    assert worker.live_heartbeats()[0]["queues"] == ["gpu"]
    user = user_create(username="ada", password="correct horse battery", email="ada@example.com")

    response = client.post(
        "/api/v1/distillations/",
        {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 1000, "quality_threshold": 0.5,
         "epochs": 1, "export_formats": ["safetensors"]},
        content_type="application/json", HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}",
    )
    assert response.status_code == 201
    job = DistillationJob.objects.get(job_id=response.json()["job_id"])

    wait_for(lambda: DistillationJob.objects.get(pk=job.pk).is_finished, 120, "the gpu worker to run the job", interval=0.5)
    assert DistillationJob.objects.get(pk=job.pk).status == "completed"
