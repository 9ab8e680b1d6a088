"""A completed job's page draws both models' reliability diagrams from the report, with the diagonal."""

import pytest

from accounts.services import user_create
from distillation.models import DistillationJob
from distillation.selectors import job_comparison_charts

pytestmark = pytest.mark.django_db


def test_the_reliability_chart_has_a_curve_per_model_and_the_diagonal(client):
    owner = user_create(username="ada", password="correct horse battery", email="ada@example.com")
    curve = {"confidence": [0.55, 0.75, 0.95], "accuracy": [0.5, 0.7, 0.97], "count": [10, 20, 300]}
    job = DistillationJob.objects.create(
        owner=owner, request={}, engine_config={}, backend="pytorch", backend_reason="zoo", cost_estimate_ftns=1,
        status=DistillationJob.Status.COMPLETED, progress=100,
        report={"retention": 0.97, "teacher": {"accuracy": 0.97, "reliability": curve},
                "student": {"accuracy": 0.94, "reliability": {**curve, "accuracy": [0.4, 0.6, 0.95]}}})

    chart = job_comparison_charts(job)["reliability"]

    assert [line["name"] for line in chart["series"]] == ["teacher", "student", "perfectly calibrated"]
    assert chart["series"][1]["y"] == [0.4, 0.6, 0.95] and chart["series"][2]["x"] == [0, 1]
    client.force_login(owner)
    assert client.get(f"/jobs/{job.job_id}/comparison/reliability.json").json() == chart
    assert "Calibration: how sure against how right" in client.get(f"/jobs/{job.job_id}/").content.decode()
