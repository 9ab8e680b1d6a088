"""The home page: what the product does for a visitor (with a measured example and sign-up), and a
signed-in user's recent jobs with a way to distil a model."""

import re

import pytest

from accounts.services import user_create
from distillation.models import DistillationJob

pytestmark = pytest.mark.django_db


def _user(name):
    return user_create(username=name, password="correct horse battery", email=f"{name}@example.com")


def _job(owner, status, teacher="catalog:digits-mlp"):
    return DistillationJob.objects.create(
        owner=owner, request={}, engine_config={}, backend="pytorch", backend_reason="a zoo teacher",
        cost_estimate_ftns=181, estimate={"teacher": teacher, "dataset": "builtin:digits"}, status=status,
        progress=100 if status == DistillationJob.Status.COMPLETED else 40,
    )


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_visitor_reads_what_it_does_sees_a_labelled_example_and_can_sign_up(client):
    html = client.get("/").content.decode()

    text = _text(html)
    assert "teacher" in text and "student" in text
    assert "Example result" in text
    # the measured movie-reviews run of docs/BENCHMARKS.md: 96.5% retention, 10.2x smaller, 8.6x faster
    assert "96.5 %" in text and "10.2 ×" in text and "8.6 ×" in text
    assert 'href="/accounts/signup/"' in html
    assert "Your recent jobs" not in text and 'href="/distill/"' not in html


def test_the_example_figures_are_the_ones_the_benchmarks_report():
    from pathlib import Path

    from prsm_site.views import EXAMPLE

    benchmarks = (Path(__file__).resolve().parents[2] / "docs" / "BENCHMARKS.md").read_text()
    row = next(line for line in benchmarks.splitlines() if line.startswith("| **MiniLM 4 layers, vocabulary capped"))
    assert f"**{EXAMPLE['retention']}%**" in row
    assert f"**{EXAMPLE['compression']}x**" in row
    assert f"**{EXAMPLE['speedup']}x**" in row


def test_a_signed_in_user_sees_their_recent_jobs_and_the_way_to_distil(client):
    ada = _user("ada")
    done = _job(ada, DistillationJob.Status.COMPLETED)
    failed = _job(ada, DistillationJob.Status.FAILED, teacher="catalog:fashion-cnn")
    theirs = _job(_user("eve"), DistillationJob.Status.RUNNING)
    client.force_login(ada)

    html = client.get("/").content.decode()

    assert 'class="button button-large" href="/distill/">Distill a model<' in html
    assert f"/jobs/{done.job_id}/" in html and f"/jobs/{failed.job_id}/" in html
    assert f"/jobs/{theirs.job_id}/" not in html
    assert '<span class="badge badge-completed">completed</span>' in html
    assert '<span class="badge badge-failed">failed</span>' in html
    assert html.index(str(failed.job_id)[:10]) < html.index(str(done.job_id)[:10])  # newest first
    assert "Example result" not in html and 'href="/accounts/signup/"' not in html


def test_a_new_user_without_jobs_is_invited_to_distil(client):
    client.force_login(_user("ada"))

    text = _text(client.get("/").content.decode())

    assert "No jobs yet" in text and "Distill a model" in text


def test_only_the_five_latest_jobs_are_listed(client):
    ada = _user("ada")
    jobs = [_job(ada, DistillationJob.Status.COMPLETED) for _ in range(7)]
    client.force_login(ada)

    html = client.get("/").content.decode()

    assert sum(f"/jobs/{job.job_id}/" in html for job in jobs) == 5
