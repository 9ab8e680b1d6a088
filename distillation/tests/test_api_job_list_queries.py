"""The job list reads the ledger's holds and the queue once for all the jobs listed, not once per job."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from distillation import services
from distillation.models import DistillationJob

from .test_api_requests import GOOD, _api_for

pytestmark = pytest.mark.django_db


def _listed(api) -> tuple[list[dict], int]:
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/v1/distillations/")
    assert response.status_code == 200
    return response.json(), len(queries)


def test_five_jobs_are_listed_with_as_many_queries_as_one(catalog_home):
    api, user = _api_for("ada")
    assert api.post("/api/v1/distillations/", GOOD, format="json").status_code == 201
    _, one = _listed(api)

    for _ in range(4):
        assert api.post("/api/v1/distillations/", GOOD, format="json").status_code == 201
    services.job_cancel(job=DistillationJob.objects.order_by("created_at").last())
    jobs, five = _listed(api)

    assert len(jobs) == 5 and five == one
    assert all(job["costs"]["held_ftns"] for job in jobs)
    assert [job["queue_position"] for job in jobs] == [None, 4, 3, 2, 1]  # newest first; the newest cancelled
    eta = [job["eta_s"] for job in jobs]
    assert eta[0] is None and eta[1:] == sorted(eta[1:], reverse=True)


def test_a_queued_job_counts_only_the_jobs_that_start_before_it(catalog_home):
    api, _ = _api_for("ada")
    first, second, urgent = (api.post("/api/v1/distillations/", GOOD, format="json").json() for _ in range(3))
    DistillationJob.objects.filter(job_id=urgent["job_id"]).update(priority=5)

    positions = {job["job_id"]: job["queue_position"] for job in _listed(api)[0]}

    assert (positions[urgent["job_id"]], positions[first["job_id"]], positions[second["job_id"]]) == (1, 2, 3)
    detail = api.get(f"/api/v1/distillations/{second['job_id']}/").json()
    assert detail["queue_position"] == 3 and detail["eta_s"] == pytest.approx(3 * detail["estimate"]["duration_s"], abs=0.2)
