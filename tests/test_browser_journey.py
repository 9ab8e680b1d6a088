"""The novice's journey, in a real browser against a real Daphne, a real worker and Redis: sign up,
go through the wizard with a catalog teacher and built-in data, watch the chart gain points while
the job trains, read the result, download the ONNX export (its sha256 matches the one shown),
deploy it and find it under My models. Also: a reload in the middle of a run draws the chart with
no gap and no repeated point."""

import hashlib

import pytest

from distillation.models import DistillationJob, JobEvent
from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once

from .browser import PASSWORD, screenshot, serious_violations, wider_than_a_phone

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def chart_steps(page) -> list[float]:
    """The x values of the training-loss line as drawn (Plotly keeps its data on the element)."""
    return page.evaluate("""() => {
        const chart = document.getElementById('metrics-chart');
        const line = (chart && chart.data || []).find((trace) => /loss/i.test(trace.name || ''));
        return line ? Array.from(line.x) : [];
    }""")


def sign_up(page, username: str) -> None:
    page.goto("/accounts/signup/")
    page.locator("#id_username").fill(username)
    page.locator("#id_email").fill(f"{username}@example.com")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("main form").get_by_role("button").click()
    page.wait_for_url(lambda url: "/signup/" not in url)


def test_a_novice_distils_a_model_from_sign_up_to_my_models(catalog_home, start_worker, browser_page):  # noqa: F811
    page = browser_page
    start_worker()
    sign_up(page, "novice")

    page.get_by_role("link", name="Distill a model").first.click()
    page.wait_for_url("**/distill/teacher/")
    page.get_by_role("radio", name="digits-mlp", exact=True).check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/distill/data/")
    page.get_by_text("The data checks found no personal data").wait_for()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/distill/goal/")
    page.get_by_role("button", name="Next").click()  # the defaults: small, speed
    page.wait_for_url("**/distill/budget/")
    page.get_by_text("Estimated cost").wait_for()
    page.get_by_role("button", name="Review").click()
    page.wait_for_url("**/distill/review/")
    page.get_by_role("button", name="Start the distillation").click()
    page.wait_for_url("**/jobs/*/")
    job = DistillationJob.objects.get(owner__username="novice")

    # While it trains, the chart gains points without a reload.
    try:
        page.wait_for_function("() => document.getElementById('status').textContent.trim() === 'running'", timeout=60_000)
    except Exception:
        job.refresh_from_db()
        screenshot(page, "journey-debug")
        raise AssertionError(f"{job.status} {job.current_stage} {job.error} {page.js_errors}")
    page.wait_for_function("""() => { const c = document.getElementById('metrics-chart');
        const line = (c && c.data || []).find((t) => /loss/i.test(t.name || '')); return line && line.x.length >= 2; }""",
                           timeout=120_000)
    seen_while_running = len(chart_steps(page))
    screenshot(page, "journey-running")

    # The finished page replaces the live one by itself.
    page.locator("#result").wait_for(timeout=300_000)
    job.refresh_from_db()
    assert job.status == "completed", job.error
    stored = [e.payload["step"] for e in JobEvent.objects.filter(job=job, type="metric").order_by("seq")
              if e.payload.get("step") is not None and "train_loss" in (e.payload.get("metrics") or {})]
    assert seen_while_running >= 2 and len(stored) >= seen_while_running
    assert page.locator("#retention").inner_text().strip()
    assert page.locator("#compression").inner_text().strip()
    assert page.get_by_role("heading", name="Safety").count() + page.locator("#safety").count() > 0
    assert page.locator("#model-card, .model-card").count() > 0
    assert serious_violations(page) == []
    screenshot(page, "journey-finished")

    # The ONNX download is the file whose sha256 the page shows.
    onnx = page.locator('#exports li[data-format="onnx"]')
    shown = onnx.locator("code.sha256").inner_text().strip()
    with page.expect_download() as download:
        onnx.get_by_role("link", name="Download onnx").click()
    assert hashlib.sha256(open(download.value.path(), "rb").read()).hexdigest() == shown

    # Deploy, then find the model under My models.
    page.locator("#deploy-form").get_by_role("button", name="Deploy").click()
    page.locator("#deployed").wait_for()
    job.refresh_from_db()
    model_id = str(job.deployment.model_id)
    page.get_by_role("link", name="My models").first.click()
    page.wait_for_url("**/models/")
    assert model_id in page.content()
    assert wider_than_a_phone(page) == []
    screenshot(page, "journey-my-models")
    assert [error for error in page.js_errors if "favicon" not in error] == []


def running_job_page(page, start_worker, *, epochs: int, points: int):
    """ada's digits job (``epochs``), its page open, a worker running it: returns once the loss line
    has ``points`` points."""
    from accounts.services import user_create
    from distillation.services import distillation_job_create
    from prsm.request import DistillationRequest

    from .browser import log_in, off_the_browser_loop

    user = user_create(username="ada", password=PASSWORD, email="ada@example.com")
    job = off_the_browser_loop(distillation_job_create, owner=user, request=DistillationRequest(
        teacher_model="catalog:digits-mlp", epochs=epochs, quality_threshold=0.5, export_formats=["onnx"]))
    log_in(page, "ada", next_path=f"/jobs/{job.job_id}/")
    start_worker()
    page.wait_for_function("""(points) => { const c = document.getElementById('metrics-chart');
        const line = (c && c.data || []).find((t) => /loss/i.test(t.name || '')); return line && line.x.length >= points; }""",
                           arg=points, timeout=120_000)
    return job


def test_a_reload_in_the_middle_of_a_run_draws_the_chart_without_gaps_or_repeats(catalog_home, start_worker,  # noqa: F811
                                                                                 browser_page):
    page = browser_page
    job = running_job_page(page, start_worker, epochs=12, points=3)
    page.reload()  # mid-run: the page loads the stored series, then the socket replays from its last seq
    # the live page marks the status "completed" and then reloads itself: wait for the reloaded page's
    # result and its chart drawn from the stored series, not for the status the old page set
    page.locator("#result").wait_for(timeout=300_000)
    page.wait_for_function("() => { const c = document.getElementById('metrics-chart'); return c && c.dataset.state === 'drawn'; }",
                           timeout=30_000)
    drawn = chart_steps(page)
    stored = [e.payload["step"] for e in JobEvent.objects.filter(job=job, type="metric").order_by("seq")
              if e.payload.get("step") is not None and "train_loss" in (e.payload.get("metrics") or {})]
    assert drawn == stored  # every stored point once, in order: no gap, no repeat
    assert len(drawn) == len(set(drawn)) and len(drawn) >= 3


def test_cancel_stops_a_running_job_and_the_page_shows_what_was_released(catalog_home, start_worker,  # noqa: F811
                                                                       browser_page):
    page = browser_page
    job = running_job_page(page, start_worker, epochs=200, points=1)

    page.get_by_role("button", name="Cancel job").click()
    page.wait_for_function("() => document.getElementById('status').textContent.trim() === 'cancelled'", timeout=60_000)
    page.locator("#cost-released").wait_for()
    job.refresh_from_db()
    assert job.status == "cancelled"
    released = page.locator("#cost-released").inner_text()
    charged = page.locator("#cost-charged").inner_text()
    assert released.endswith("FTNS") and charged.endswith("FTNS") and released != "0.00 FTNS"
    screenshot(page, "journey-cancelled-while-running")
