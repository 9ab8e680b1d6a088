"""Predicted before the run: the estimate's ``expected`` block gives the student's size, latency and
retention as ranges over the completed jobs here with the same teacher and target size (anyone's,
as figures only), falls back to teachers of the same task, and to the design rule's size budget
before any job like it has run; the wizard says it in words and the API returns it."""

import json

import pytest
from rest_framework.authtoken.models import Token

from distillation.expectations import design_rule
from distillation.formatting import expected_text
from distillation.models import DistillationJob, Teacher
from distillation.planning import plan
from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once
from distillation.tests.test_job_dashboard import ada, completed, make_user, new_job  # noqa: F401 - fixtures
from distillation.tests.test_wizard import _walk_to_budget  # the wizard up to its budget step
from prsm.request import DistillationRequest

pytestmark = pytest.mark.django_db

REQUEST = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 1000, "epochs": 2}
TEACHER_PARAMS = 167178  # catalog:digits-mlp


def _expected(owner=None, **fields) -> dict:
    return plan(request=DistillationRequest.model_validate({**REQUEST, **fields}), owner=owner).estimate()["expected"]


def _finished(completed, owner, *, params, latency, retention, target_size="small"):  # noqa: F811
    """A completed job whose report (test_job_dashboard.engine_report's shape) measured these figures."""
    job = completed(owner, retention=retention, request={"target_size": target_size})
    report = job.report
    report["student"].update(params=params, latency_ms_p50=latency)
    report["compression_ratio"] = TEACHER_PARAMS / params
    DistillationJob.objects.filter(pk=job.pk).update(report=report)
    return job


@pytest.fixture
def eve():
    return make_user("eve")


def test_before_any_job_the_estimate_gives_the_design_rules_budget(catalog_home):  # noqa: F811
    small, medium = _expected(), _expected(target_size="medium")

    assert small == {"source": "design_rule", "runs": 0, "params": [None, TEACHER_PARAMS // 20], "compression": [20, None],
                     "latency_ms_p50": None, "retention": None,
                     "basis": "no completed job like this yet: the size is the target's limit; latency and retention "
                              "are measured by the run (its search's first trials show on the job page)"}
    assert medium["params"] == [None, TEACHER_PARAMS // 8] and medium["compression"] == [8, None]
    assert _expected(search="off")["basis"].endswith("measured by the run (on the job page)")
    unknown = design_rule(teacher_params=0, target_size="small")  # a teacher over HTTP has no count
    assert unknown["params"] is None and unknown["compression"] is None
    assert expected_text(unknown).startswith("No completed job like this yet: the size is the target's limit, and "
                                             "the teacher's size is not known before the run;")


def test_completed_jobs_on_the_teacher_at_that_size_give_ranges_and_their_count(ada, eve, completed):  # noqa: F811
    _finished(completed, ada, params=3610, latency=0.0298, retention=0.95)
    _finished(completed, ada, params=6600, latency=0.041, retention=0.99)
    _finished(completed, eve, params=5000, latency=0.035, retention=1.006)
    _finished(completed, eve, params=20000, latency=0.09, retention=0.999, target_size="medium")  # another size
    DistillationJob.objects.create(owner=eve, request={}, engine_config={"teacher": "catalog:digits-mlp", "target_size": "small"},
                                   backend="pytorch", backend_reason="zoo", cost_estimate_ftns=1,
                                   status=DistillationJob.Status.FAILED)  # failed: no figures

    expected = _expected(ada)

    assert expected["source"] == "past_runs" and expected["runs"] == 3
    assert expected["params"] == [3610, 6600]
    assert expected["compression"] == [round(TEACHER_PARAMS / 6600, 2), round(TEACHER_PARAMS / 3610, 2)]
    assert expected["latency_ms_p50"] == [0.0298, 0.041] and expected["retention"] == [0.95, 1.006]
    assert expected["basis"] == "3 completed jobs on catalog:digits-mlp at target size small"
    assert _expected(ada, target_size="medium")["params"] == [20000, 20000]
    assert _expected(ada, target_size="large")["source"] == "design_rule"


def test_another_users_jobs_count_but_nothing_identifies_them(api_client, ada, eve, completed):  # noqa: F811
    jobs = [_finished(completed, eve, params=params, latency=0.03, retention=0.97) for params in (4000, 5000)]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=ada).key}")

    body = api_client.post("/api/v1/distillations/estimate/", REQUEST, format="json").json()

    expected = body["expected"]
    assert expected["source"] == "past_runs" and expected["runs"] == 2 and expected["params"] == [4000, 5000]
    assert set(expected) == {"source", "runs", "params", "compression", "latency_ms_p50", "retention", "basis"}
    assert all(isinstance(value, (int, float)) for key in ("params", "compression", "retention")
               for value in expected[key])  # figures only
    text = json.dumps(body)
    assert "eve" not in text and all(str(job.job_id) not in text for job in jobs)


def test_a_teacher_without_jobs_falls_back_to_teachers_of_the_same_task(ada, eve, completed):  # noqa: F811
    _finished(completed, eve, params=3610, latency=0.03, retention=0.95)
    _finished(completed, eve, params=8000, latency=0.05, retention=0.98)
    upload = Teacher.objects.create(owner=ada, name="my tabular onnx", sha256="0" * 64, size_bytes=10, path="uploads/t.onnx",
                                    kind=Teacher.Kind.ONNX, status=Teacher.Status.READY, task="tabular", params=10_000)

    expected = _expected(ada, teacher_model=str(upload.public_id), dataset="builtin:digits")

    assert expected["source"] == "past_runs" and expected["runs"] == 2
    assert expected["basis"] == (f"no completed job on {upload.public_id} at target size small yet; "
                                 "2 completed jobs on other tabular teachers at that size")
    # this teacher's size over the compression those jobs reached
    assert expected["params"] == [round(10_000 * 3610 / TEACHER_PARAMS), round(10_000 * 8000 / TEACHER_PARAMS)] == [216, 479]
    assert expected["retention"] == [0.95, 0.98] and expected["latency_ms_p50"] == [0.03, 0.05]
    # an image teacher learns nothing from tabular jobs
    assert _expected(ada, teacher_model="catalog:fashion-cnn", domain="images")["source"] == "design_rule"


def test_the_wizard_says_what_to_expect_on_the_goal_budget_and_review_steps(client, ada, eve, completed):  # noqa: F811
    client.force_login(ada)
    _walk_to_budget(client)
    budget = client.get("/distill/budget/").content.decode()
    assert ("Expected: at most 8.4k parameters (at least 20x smaller). No completed job like this yet: the size is "
            "the target&#x27;s limit") in budget

    _finished(completed, ada, params=3610, latency=0.0298, retention=0.994)
    _finished(completed, eve, params=6600, latency=0.041, retention=1.006)
    _finished(completed, eve, params=5000, latency=0.035, retention=1.0)

    sentence = ("Expected: about 3.6k–6.6k parameters (25–46x smaller), 0.030–0.041 ms a prediction, retention "
                "99.4%–100.6%, from 3 completed jobs on catalog:digits-mlp at target size small.")
    assert sentence in client.get("/distill/budget/").content.decode()
    assert sentence in client.post("/distill/estimate/", {"budget_ftns": "900"}).content.decode()
    assert sentence in client.get("/distill/review/").content.decode()
    goal = client.get("/distill/goal/").content.decode()
    small = goal.split('id="expected-small">')[1].split("</td>")[0]
    medium = goal.split('id="expected-medium">')[1].split("</td>")[0]
    assert "about 3.6k–6.6k parameters (25–46x smaller), 0.030–0.041 ms a prediction" in small
    assert "not yet: the job measures it" in medium


def test_the_schema_describes_the_expected_block(api_client):
    paths = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]

    description = paths["/api/v1/distillations/estimate/"]["post"]["description"]
    assert "`expected`" in description and "past_runs" in description and "design_rule" in description
