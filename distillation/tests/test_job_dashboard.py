"""The job page through Django's test client: a queued job's place in the queue, cancelling from the
page, a completed job's figures, charts, checks, exports and model card, deploy and its refusals,
a failed job's account, who may see what, and My jobs' filter and pages."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import user_create
from distillation import selectors
from distillation.models import DeployedModel, DistillationJob, JobEvent
from distillation.selectors import job_out_dir
from distillation.services import (distillation_job_create, job_complete, job_event_append, job_fail,
                                   job_hold_reference, job_lease_acquire)
from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once
from distillation.views import duration_text
from ledger.amounts import display_ftns
from ledger.models import Hold
from prsm.request import DistillationRequest

pytestmark = pytest.mark.django_db

REQUEST = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 1000, "epochs": 2,
           "quality_threshold": 0.5}
CLASSES = ["0", "1", "2"]
CARD = """---
license: other
---
# tabular-student-small

A tabular classifier distilled by PRSM.

| metric | teacher | student |
|---|---|---|
| accuracy (test) | 0.9694 | 0.9200 |

<script>alert("card")</script>

[a link](javascript:alert(1)) <img src=x onerror="alert(2)">
"""


def safety_check(passed: bool, phase: str = "after", detail: str = "measured") -> dict:
    return {"passed": passed, "score": 0.02, "threshold": 0.15, "detail": detail, "phase": phase, "seconds": 0.004}


def engine_report(folder, *, retention=0.95, checks=None, baseline=True, search=None, teacher_note=None) -> dict:
    """A report shaped as prsm/engine/stages/finish.py writes it, with an ONNX export on disk; ``search``
    is its search for the best student (test_job_search.SEARCH), ``teacher_note`` the teacher's test_note."""
    onnx = folder / "model.onnx"
    onnx.parent.mkdir(parents=True, exist_ok=True)
    onnx.write_bytes(b"onnx-model-bytes")
    teacher_accuracy = 0.9694
    report = {
        "task": "tabular", "backend": "pytorch", "seed": 0, "data_sha256": "d" * 64, "classes": CLASSES,
        "teacher": {"params": 167178, "size_bytes": 678384, "accuracy": teacher_accuracy, "latency_ms_p50": 0.0569,
                    "latency_ms_p95": 0.0642, "f1_macro": 0.9695, "ece": 0.018},
        "student": {"params": 3610, "size_bytes": 15376, "accuracy": teacher_accuracy * retention,
                    "latency_ms_p50": 0.0298, "latency_ms_p95": 0.0359, "architecture": {"kind": "mlp"},
                    "f1_macro": 0.91, "ece": 0.05, "per_class_accuracy": {"0": 1.0, "1": 0.9, "2": 0.85},
                    "confusion_matrix": [[30, 0, 0], [1, 27, 2], [2, 3, 25]]},
        "retention": retention, "compression_ratio": 46.3097, "speedup": 1.9094,
        "exports": {"onnx": {"path": "model.onnx", "sha256": hashlib.sha256(b"onnx-model-bytes").hexdigest(),
                             "size_bytes": 16, "verified": True, "max_abs_diff": 7.15e-07}},
        "checks": {"retention": {"passed": True, "score": retention, "threshold": 0.5, "detail": "student / teacher"},
                   **(checks or {"calibration": safety_check(True), "label_sanity": safety_check(True, "before")})},
        "stages": {"load_data": {"seconds": 1.031, "order": 0}, "train": {"seconds": 12.5, "order": 1},
                   "export": {"seconds": 3.685, "order": 2}},  # as the engine writes them
    }
    if search is not None:
        report["search"] = search
    if teacher_note is not None:
        report["teacher"]["test_note"] = teacher_note
    if baseline:
        report["baseline"] = {"accuracy": 0.88, "f1_macro": 0.87, "ece": 0.04, "agreement": 0.9, "epochs_trained": 2,
                              "distillation_gain": report["student"]["accuracy"] - 0.88}
    return report


def make_user(name):
    return user_create(username=name, password="correct horse battery", email=f"{name}@example.com")


@pytest.fixture
def ada():
    return make_user("ada")


@pytest.fixture
def new_job(catalog_home):  # noqa: F811
    def create(owner, **request):
        return distillation_job_create(owner=owner, request=DistillationRequest.model_validate({**REQUEST, **request}))

    return create


@pytest.fixture
def completed(new_job):
    def complete(owner, *, card=CARD, request=None, **report):
        job = new_job(owner, **(request or {}))
        job, token = job_lease_acquire(job_id=job.job_id)
        folder = job_out_dir(job)
        report = engine_report(folder, **report)
        if card:
            (folder / "MODEL_CARD.md").write_text(card)
        assert job_complete(job=job, token=token, report=report)
        job.refresh_from_db()
        return job

    return complete


def test_a_queued_job_shows_its_place_in_the_queue_and_when_it_should_finish(client, ada, new_job):
    new_job(ada)
    second = new_job(ada)
    client.force_login(ada)

    body = client.get(f"/jobs/{second.job_id}/").content.decode()
    api = client.get(f"/api/v1/distillations/{second.job_id}/").json()

    assert api["queue_position"] == 2
    assert '<strong id="queue-position">2</strong>' in body
    assert "1 job ahead of it" in body
    assert f'<strong id="queue-eta">{duration_text(api["eta_s"])}</strong>' in body
    assert 'id="cancel-form"' in body and "Run again with changes" not in body


def test_cancelling_a_queued_job_from_the_page_releases_its_hold(client, ada, new_job):
    job = new_job(ada)
    client.force_login(ada)
    held = Hold.objects.get(reference=job_hold_reference(job)).amount

    response = client.post(f"/jobs/{job.job_id}/cancel/", follow=True)

    hold = Hold.objects.get(reference=job_hold_reference(job))
    assert hold.state == Hold.State.RELEASED and hold.released == held and hold.charged == 0
    body = response.content.decode()
    assert response.redirect_chain == [(f"/jobs/{job.job_id}/", 302)]
    assert f"{display_ftns(held)} FTNS went back to your wallet" in body
    assert "You cancelled the job before it started." in body
    assert f'<dd id="cost-released">{display_ftns(held)} FTNS</dd>' in body
    assert 'id="cancel-form"' not in body
    assert f'href="/distill/?from={job.job_id}"' in body


def test_cancelling_a_finished_job_is_refused_beside_the_button(client, ada, completed):
    job = completed(ada)
    client.force_login(ada)

    response = client.post(f"/jobs/{job.job_id}/cancel/")

    assert response.status_code == 409
    assert "The job is already completed." in response.content.decode()


def test_a_completed_job_shows_its_figures_baseline_checks_and_exports(client, ada, completed):
    job = completed(ada)
    client.force_login(ada)

    body = client.get(f"/jobs/{job.job_id}/").content.decode()

    assert '<strong id="retention">95.0</strong>' in body
    assert '<strong id="compression">46.3</strong>' in body and '<strong id="speedup">1.9</strong>' in body
    assert "Share of the teacher's accuracy the student kept" in body
    assert 'id="baseline"' in body and "0.880" in body  # the labels-only baseline
    artifact = job.artifacts.get(format="onnx")
    assert artifact.sha256 in body and "16\xa0bytes," in body and "verified: reloads and matches the student" in body
    assert f'href="/api/v1/distillations/{job.job_id}/artifacts/onnx/download/"' in body
    assert 'data-check="calibration"' in body and 'data-check="label_sanity"' in body
    assert 'id="breaker-state">closed<' in body and "may be deployed and listed" in body
    assert '<fieldset disabled' not in body  # deploy and list are open


def test_the_export_downloads_with_the_session_and_matches_its_checksum(client, ada, completed):
    job = completed(ada)
    client.force_login(ada)

    response = client.get(f"/api/v1/distillations/{job.job_id}/artifacts/onnx/download/")

    assert response.status_code == 200
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == job.artifacts.get(format="onnx").sha256


def test_the_model_card_is_rendered_from_markdown_and_sanitised(client, ada, completed):
    job = completed(ada)
    client.force_login(ada)

    body = client.get(f"/jobs/{job.job_id}/").content.decode()
    card = body.split('<div class="model-card', 1)[1].split("</section>", 1)[0]

    assert "<h3>tabular-student-small</h3>" in card  # under the page's own headings
    assert "<table>" in card and "<td>0.9694</td>" in card
    assert "license: other" not in card  # the YAML front matter is for the hub
    assert "<script" not in card and "alert(" not in card
    assert "javascript:" not in card and "onerror" not in card
    assert "<script>" not in body  # nothing inline anywhere on the page


def test_the_comparison_charts_are_the_reports_figures(client, ada, completed):
    job = completed(ada)
    client.force_login(ada)
    report = client.get(f"/api/v1/distillations/{job.job_id}/").json()["report"]

    charts = client.get(f"/jobs/{job.job_id}/comparison.json").json()

    assert list(charts) == ["accuracy", "size", "latency", "per_class", "confusion"]
    accuracy = charts["accuracy"]["series"][0]
    assert accuracy["x"] == ["teacher", "student", "labels-only baseline"]
    assert accuracy["y"] == [report["teacher"]["accuracy"], report["student"]["accuracy"], report["baseline"]["accuracy"]]
    assert charts["size"]["series"][0]["y"] == [report["teacher"]["params"], report["student"]["params"]]
    assert [line["y"] for line in charts["latency"]["series"]] == [
        [report["teacher"]["latency_ms_p50"], report["student"]["latency_ms_p50"]],
        [report["teacher"]["latency_ms_p95"], report["student"]["latency_ms_p95"]]]
    assert charts["per_class"]["series"][0]["y"] == list(report["student"]["per_class_accuracy"].values())
    assert charts["confusion"]["series"][0]["z"] == report["student"]["confusion_matrix"]
    one = client.get(f"/jobs/{job.job_id}/comparison/confusion.json")
    assert one.json() == charts["confusion"]
    body = client.get(f"/jobs/{job.job_id}/").content.decode()
    assert all(f'data-series-url="/jobs/{job.job_id}/comparison/{name}.json"' in body for name in charts)


def test_charts_without_figures_in_the_report_are_left_out(client, ada, completed):
    job = completed(ada, baseline=False)
    report = dict(job.report)
    report["student"] = {k: v for k, v in report["student"].items() if k not in ("per_class_accuracy", "confusion_matrix")}
    DistillationJob.objects.filter(pk=job.pk).update(report=report)
    client.force_login(ada)

    charts = client.get(f"/jobs/{job.job_id}/comparison.json").json()

    assert list(charts) == ["accuracy", "size", "latency"]
    assert charts["accuracy"]["series"][0]["x"] == ["teacher", "student"]
    assert client.get(f"/jobs/{job.job_id}/comparison/confusion.json").status_code == 404
    assert 'id="baseline"' not in client.get(f"/jobs/{job.job_id}/").content.decode()


def test_a_mobile_students_int8_latency_stands_beside_its_own_in_the_latency_chart(client, ada, completed):
    job = completed(ada, baseline=False)
    report = dict(job.report)
    report["student"] = {**report["student"], "mobile": {"latency_ms_p50": 0.04, "latency_ms_p95": 0.05, "threads": 1}}
    DistillationJob.objects.filter(pk=job.pk).update(report=report)
    client.force_login(ada)

    p50, p95 = client.get(f"/jobs/{job.job_id}/comparison/latency.json").json()["series"]

    assert p50["x"] == ["teacher", "student", "student, int8 TFLite (1 thread)"] and p50["y"][-1] == 0.04
    assert p95["y"] == [report["teacher"]["latency_ms_p95"], report["student"]["latency_ms_p95"], 0.05]


def test_deploying_from_the_page_serves_the_model_and_lists_it_on_my_models(client, ada, completed):
    job = completed(ada)
    client.force_login(ada)

    response = client.post(f"/marketplace/jobs/{job.job_id}/deploy/", {"export_format": "onnx"}, follow=True)

    deployed = DeployedModel.objects.get(job=job)
    assert deployed.export_format == "onnx"
    body = response.content.decode()
    assert f"Deployed as model {deployed.model_id} (onnx)." in body and 'id="deployed"' in body
    assert 'id="deploy-form"' not in body
    assert str(deployed.model_id)[:10] in client.get("/models/").content.decode()


def test_a_tripped_breaker_disables_deploy_and_names_the_reason(client, ada, completed):
    job = completed(ada, checks={"calibration": safety_check(False, detail="confidence off by 0.258")})
    client.force_login(ada)

    body = client.get(f"/jobs/{job.job_id}/").content.decode()

    assert 'id="breaker-state">tripped<' in body and "a moderator approves the model" in body
    assert "The safety circuit breaker tripped (calibration: confidence off by 0.258)" in body
    assert body.count('<fieldset disabled aria-describedby="deploy-blocked">') == 2  # deploy, and list
    refused = client.post(f"/marketplace/jobs/{job.job_id}/deploy/", {"export_format": "onnx"})
    assert refused.status_code == 409 and "a moderator must approve the model first" in refused.content.decode()
    assert not DeployedModel.objects.filter(job=job).exists()


def test_retention_under_the_quality_threshold_disables_deploy(client, ada, completed):
    job = completed(ada, retention=0.4)
    client.force_login(ada)

    body = client.get(f"/jobs/{job.job_id}/").content.decode()

    assert "kept 40.0% of the teacher&#x27;s accuracy, under the job&#x27;s quality threshold of 50%" in body
    assert '<fieldset disabled aria-describedby="deploy-blocked">' in body


def test_a_failed_job_says_what_happened_and_that_the_hold_was_refunded(client, ada, new_job):
    job = new_job(ada)
    job, token = job_lease_acquire(job_id=job.job_id)
    job_event_append(job=job, type="stage", payload={"stage": "load_data", "message": "load data"}, token=token)
    job_fail(job=job, token=token, message="The run failed inside the platform (RuntimeError: boom). Your budget was refunded.",
             platform_fault=True, used_seconds=3)
    client.force_login(ada)

    body = client.get(f"/jobs/{job.job_id}/").content.decode()

    hold = Hold.objects.get(reference=job_hold_reference(job))
    assert hold.state == Hold.State.REFUNDED
    assert "RuntimeError: boom" in body
    assert f"The whole hold, {display_ftns(hold.amount)} FTNS, was refunded" in body
    assert 'data-stage="load_data" data-state="failed"' in body
    assert 'id="cancel-form"' not in body and 'id="deploy"' not in body


def test_the_stage_timeline_times_a_running_job_from_its_events_and_a_finished_one_from_its_report(ada, new_job, completed):
    job = new_job(ada)
    job, token = job_lease_acquire(job_id=job.job_id)
    for stage in ("load_data", "train"):
        job_event_append(job=job, type="stage", payload={"stage": stage}, token=token)
    start = timezone.now() - timedelta(seconds=10)
    JobEvent.objects.filter(job=job, payload__stage="load_data").update(created_at=start)
    JobEvent.objects.filter(job=job, payload__stage="train").update(created_at=start + timedelta(seconds=4))

    running = selectors.job_stage_timeline(job)

    assert [(row["stage"], row["state"]) for row in running] == [("load_data", "done"), ("train", "running")]
    assert running[0]["seconds"] == 4.0 and running[1]["seconds"] >= 6
    finished = selectors.job_stage_timeline(completed(ada))
    assert finished == [{"stage": "load_data", "seconds": 1.031, "state": "done"},
                        {"stage": "train", "seconds": 12.5, "state": "done"},
                        {"stage": "export", "seconds": 3.685, "state": "done"}]


def test_the_page_starts_its_live_list_at_the_jobs_last_seq(client, ada, new_job):
    job = new_job(ada)
    job, token = job_lease_acquire(job_id=job.job_id)
    job_event_append(job=job, type="log", payload={"stage": "load_data", "message": "read 1,797 rows"}, token=token)
    job.refresh_from_db()
    client.force_login(ada)

    body = client.get(f"/jobs/{job.job_id}/").content.decode()

    assert f'data-last-seq="{job.last_seq}"' in body
    assert "<li>log: read 1,797 rows</li>" in body


def test_another_users_job_is_a_404_everywhere_and_visitors_are_sent_to_log_in(client, ada, completed):
    job = completed(ada)
    client.force_login(make_user("eve"))

    for path in ("/", "/comparison.json", "/comparison/accuracy.json", "/metrics.json"):
        assert client.get(f"/jobs/{job.job_id}{path}").status_code == 404, path
    assert client.post(f"/jobs/{job.job_id}/cancel/").status_code == 404
    assert client.post(f"/marketplace/jobs/{job.job_id}/deploy/").status_code == 404
    assert not DeployedModel.objects.filter(job=job).exists()

    client.logout()
    for path in (f"/jobs/{job.job_id}/", "/jobs/", "/models/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path


def _plain_jobs(owner, count, status):
    now = timezone.now()
    jobs = [DistillationJob.objects.create(
        owner=owner, request={}, engine_config={}, backend="pytorch", backend_reason="a zoo teacher",
        cost_estimate_ftns=1, estimate={"teacher": f"catalog:{status}-{index}"}, status=status) for index in range(count)]
    for index, job in enumerate(jobs):  # one a minute, in the order made
        DistillationJob.objects.filter(pk=job.pk).update(created_at=now - timedelta(minutes=count - index))
    return jobs


def test_my_jobs_filters_by_status_and_pages_newest_first(client, ada):
    completed_jobs = _plain_jobs(ada, 23, DistillationJob.Status.COMPLETED)
    _plain_jobs(ada, 2, DistillationJob.Status.FAILED)
    client.force_login(ada)

    failed = client.get("/jobs/?status=failed").content.decode()
    assert failed.count("<tr data-job-id=") == 2 and "catalog:completed-" not in failed
    assert failed.index("catalog:failed-1") < failed.index("catalog:failed-0")  # newest first

    first = client.get("/jobs/?status=completed").content.decode()
    assert first.count("<tr data-job-id=") == 20 and "Page 1 of 2" in first
    assert 'href="?page=2&amp;status=completed"' in first
    second = client.get("/jobs/?status=completed&page=2").content.decode()
    assert second.count("<tr data-job-id=") == 3
    assert str(completed_jobs[0].job_id)[:10] in second  # the oldest is last

    everything = client.get("/jobs/?status=nonsense").content.decode()
    assert everything.count("<tr data-job-id=") == 20 and "Page 1 of 2" in everything
    assert "No running jobs." in client.get("/jobs/?status=running").content.decode()


def test_my_jobs_points_a_new_user_to_the_wizard(client, ada):
    client.force_login(ada)

    body = client.get("/jobs/").content.decode()

    assert 'id="jobs-empty"' in body and 'href="/distill/"' in body
    assert "jobs.js" not in body
