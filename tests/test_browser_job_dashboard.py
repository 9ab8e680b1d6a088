"""The job dashboard, My jobs and My models in a real browser: a completed job's figures, safety
report, model card and exports (the downloaded file matches its checksum), deploying, a tripped
breaker, cancelling, the live timeline and badges, the search for the best student filling in live
and then marking its choice; axe-core and phone width on each, with screenshots in var/screenshots/."""

import hashlib
from pathlib import Path

import pytest

from accounts.services import user_create
from distillation.models import DeployedModel
from distillation.selectors import job_comparison_charts, job_out_dir
from distillation.services import (distillation_job_create, job_complete, job_event_append, job_fail,
                                   job_hold_reference, job_lease_acquire)
from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once
from distillation.tests.test_job_dashboard import CARD, REQUEST, engine_report, safety_check
from distillation.tests.test_job_search import SEARCH, TEST_NOTE, running_search, trial_event
from ledger.amounts import display_ftns
from ledger.models import Hold
from prsm.request import DistillationRequest
from tests.browser import DESKTOP, PASSWORD, log_in, off_the_browser_loop, screenshot, serious_violations, wider_than_a_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _user(username):
    return user_create(username=username, password=PASSWORD, email=f"{username}@example.com")


def _queued(owner):
    return distillation_job_create(owner=owner, request=DistillationRequest.model_validate(REQUEST))


def _completed(owner, **report):
    job, token = job_lease_acquire(job_id=_queued(owner).job_id)
    for step, metrics in ((20, {"train_loss": 1.2, "val_accuracy": 0.7}), (40, {"train_loss": 0.6, "val_accuracy": 0.9})):
        job_event_append(job=job, type="metric", payload={"stage": "train", "metrics": metrics, "step": step}, token=token)
    folder = job_out_dir(job)
    report = engine_report(folder, **report)
    (folder / "MODEL_CARD.md").write_text(CARD)
    assert job_complete(job=job, token=token, report=report)
    job.refresh_from_db()
    return job


def _failed(owner):
    job, token = job_lease_acquire(job_id=_queued(owner).job_id)
    job_event_append(job=job, type="stage", payload={"stage": "load_data", "message": "load data"}, token=token)
    job_fail(job=job, token=token, message="The data set has a single class; a classifier needs two or more.",
             platform_fault=False, used_seconds=2)
    return job


@pytest.fixture
def ada(transactional_db, catalog_home):  # noqa: F811
    return off_the_browser_loop(_user, "ada")


def _fits_and_passes(page, name):
    """axe-core and 390 px on the page as it is, with a screenshot at each width."""
    page.set_viewport_size(DESKTOP)
    if page.locator("[data-chart]").count():
        page.wait_for_function("() => [...document.querySelectorAll('[data-chart]')]"
                               ".every((el) => el.dataset.state !== 'loading')")
    screenshot(page, f"{name}-desktop")
    problems = {"axe": serious_violations(page), "wider than 390px": wider_than_a_phone(page)}
    screenshot(page, f"{name}-390px")
    page.set_viewport_size(DESKTOP)
    return problems


NO_PROBLEMS = {"axe": [], "wider than 390px": []}


def test_a_completed_job_shows_its_result_and_its_export_downloads_as_shown(browser_page, ada):
    page, job = browser_page, off_the_browser_loop(_completed, ada)
    log_in(page, "ada", next_path=f"/jobs/{job.job_id}/")

    assert page.locator("#retention").inner_text() == "95.0"
    assert page.locator("#compression").inner_text() == "46.3" and page.locator("#speedup").inner_text() == "1.9"
    assert page.locator("#breaker-state").inner_text() == "closed"
    assert page.locator("#safety-checks tr[data-check=calibration]").get_by_text("passed").is_visible()
    assert page.locator(".model-card h3").first.inner_text() == "tabular-student-small"
    assert page.locator(".model-card script").count() == 0
    charts = off_the_browser_loop(job_comparison_charts, job)
    page.wait_for_function("() => document.getElementById('chart-accuracy').dataset.state !== 'loading'")
    assert page.locator("#chart-accuracy").get_attribute("data-state") == "drawn", page.js_errors
    drawn = page.evaluate("() => document.getElementById('chart-accuracy').data.map((t) => Array.from(t.y))")
    assert drawn == [charts["accuracy"]["series"][0]["y"]]

    shown = page.locator("[data-format=onnx] code.sha256").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download onnx").click()
    data = Path(download.value.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == shown == job.artifacts.get(format="onnx").sha256

    assert _fits_and_passes(page, "job-completed") == NO_PROBLEMS
    assert page.js_errors == []


def test_deploying_in_the_browser_puts_the_model_on_my_models(browser_page, ada):
    page, job = browser_page, off_the_browser_loop(_completed, ada)
    log_in(page, "ada", next_path=f"/jobs/{job.job_id}/")

    page.locator("#deploy-form").get_by_role("button", name="Deploy").click()

    page.wait_for_selector("#deployed")
    deployed = off_the_browser_loop(lambda: DeployedModel.objects.get(job__job_id=job.job_id))
    assert str(deployed.model_id) in page.locator("#deployed").inner_text()
    page.get_by_role("link", name="My models").first.click()
    row = page.locator(f"tr[data-model-id='{deployed.model_id}']")
    assert "95.0%" in row.inner_text() and "onnx" in row.inner_text() and "not listed" in row.inner_text()
    assert _fits_and_passes(page, "models") == NO_PROBLEMS

    page.goto(f"/jobs/{job.job_id}/")
    page.get_by_label("Price to buy (FTNS)").fill("12.5")
    page.locator("#list-form").get_by_role("button", name="List on the marketplace").click()
    page.wait_for_selector("#listed")
    assert "12.50 FTNS to buy" in page.locator("#listed").inner_text()
    assert page.js_errors == []


def test_a_tripped_breaker_shows_deploy_disabled_with_the_reason(browser_page, ada):
    job = off_the_browser_loop(_completed, ada, checks={"calibration": safety_check(False, detail="confidence off by 0.258")})
    page = browser_page
    log_in(page, "ada", next_path=f"/jobs/{job.job_id}/")

    assert page.locator("#breaker-state").inner_text() == "tripped"
    assert page.locator("#deploy-form").get_by_role("button", name="Deploy").is_disabled()
    assert page.locator("#list-form").get_by_role("button", name="Deploy and list").is_disabled()
    reason = page.locator("#deploy-blocked").inner_text()
    assert "circuit breaker tripped (calibration: confidence off by 0.258)" in reason
    assert page.locator("#deploy-form fieldset").get_attribute("aria-describedby") == "deploy-blocked"
    assert _fits_and_passes(page, "job-tripped") == NO_PROBLEMS


def test_cancelling_a_queued_job_shows_what_was_released(browser_page, ada):
    page, job = browser_page, off_the_browser_loop(_queued, ada)
    log_in(page, "ada", next_path=f"/jobs/{job.job_id}/")
    assert page.locator("#queue-position").inner_text() == "1"
    assert _fits_and_passes(page, "job-queued") == NO_PROBLEMS

    page.get_by_role("button", name="Cancel job").click()

    page.wait_for_selector("#ended")
    hold = off_the_browser_loop(lambda: Hold.objects.get(reference=job_hold_reference(job)))
    assert hold.state == Hold.State.RELEASED
    assert f"{display_ftns(hold.released)} FTNS went back to your wallet" in page.locator(".messages").inner_text()
    assert page.locator("#cost-released").inner_text() == f"{display_ftns(hold.released)} FTNS"
    assert page.get_by_role("link", name="Run again with changes").get_attribute("href") == f"/distill/?from={job.job_id}"
    page.reload()  # without the message: base.html's role="status" on its <ul> is axe's "listitem" (reported)
    assert _fits_and_passes(page, "job-cancelled") == NO_PROBLEMS
    assert page.js_errors == []


def test_a_failed_job_says_what_happened(browser_page, ada):
    page, job = browser_page, off_the_browser_loop(_failed, ada)
    log_in(page, "ada", next_path=f"/jobs/{job.job_id}/")

    assert "single class" in page.locator("#ended").inner_text()
    assert "charged for the time it ran" in page.locator("#ended-money").inner_text()
    assert _fits_and_passes(page, "job-failed") == NO_PROBLEMS


def test_a_running_jobs_page_and_my_jobs_follow_it_live(browser_page, ada):
    page, job = browser_page, off_the_browser_loop(_queued, ada)
    log_in(page, "ada", next_path="/jobs/")
    badge = page.locator(f"tr[data-job-id='{job.job_id}'] .badge")
    assert badge.inner_text() == "queued"
    assert _fits_and_passes(page, "jobs") == NO_PROBLEMS

    job, token = off_the_browser_loop(job_lease_acquire, job_id=job.job_id)
    off_the_browser_loop(job_event_append, job=job, type="stage", payload={"stage": "load_data"}, token=token,
                         fields={"progress": 3.0, "current_stage": "load_data"})
    page.wait_for_function(f"() => document.querySelector(\"tr[data-job-id='{job.job_id}'] .badge\").textContent === 'running'",
                           timeout=15_000)

    page.goto(f"/jobs/{job.job_id}/")
    assert page.locator("#timeline li[data-state=running]").inner_text().startswith("load_data")
    page.wait_for_timeout(500)  # the websocket connects
    off_the_browser_loop(job_event_append, job=job, type="stage", payload={"stage": "train", "message": "train"},
                         token=token, fields={"progress": 20.0, "current_stage": "train"})
    page.wait_for_selector("#timeline li[data-stage=train][data-state=running]")
    assert page.locator("#timeline li[data-stage=load_data]").get_attribute("data-state") == "done"
    assert page.locator("#stage").inner_text() == "train" and page.locator("#percent").inner_text() == "20%"
    assert "stage: train" in page.locator("#events").inner_text()
    assert _fits_and_passes(page, "job-running") == NO_PROBLEMS
    assert page.js_errors == []


def _search_points(page) -> dict:
    """The search chart's points as drawn, by series key."""
    return page.evaluate("() => Object.fromEntries(document.getElementById('search-chart').data"
                         ".map((t) => [t.meta, Array.from(t.x).map((x, i) => [x, t.y[i]])]))")


def test_a_searching_jobs_trials_fill_the_table_and_chart_live_then_the_choice_is_marked(browser_page, ada):
    page, trials = browser_page, SEARCH["trials"]
    job, token = off_the_browser_loop(lambda: running_search(_queued(ada), trials=trials[:2]))
    log_in(page, "ada", next_path=f"/jobs/{job.job_id}/")
    page.wait_for_function("() => document.getElementById('search-chart').dataset.state !== 'loading'")
    assert page.locator("#search-trials tr").count() == 2
    assert _search_points(page)["complete"] == [[3610, 0.648148], [7210, 0.75463]]

    page.wait_for_timeout(500)  # the websocket connects
    checked = {**trials[2], "state": "complete", "gate": {"passed": False, "failed": ["low_margin_agreement"]}}
    for trial in (checked, trials[3]):
        off_the_browser_loop(job_event_append, job=job, type="trial", payload=trial_event(trial), token=token,
                             fields={"progress": 15.0, "current_stage": "search"})
    page.wait_for_selector("#search-trials tr[data-trial='3']")
    cells = page.locator("#search-trials tr[data-trial='3'] > *").all_inner_texts()
    assert cells == ["4", "mlp-64x32x16", "6938", "T 4 · alpha 0.3 · lr ×0.5", "1", "0.2685", "pruned"]
    # a finished trial's deploy checks on validation, as the server writes them after a reload
    assert page.locator("#search-trials tr[data-trial='2'] > *").last.inner_text() == \
        "complete · fails low margin agreement"
    page.wait_for_function("() => document.getElementById('search-chart').data[1].x.length === 1")
    assert _search_points(page)["pruned"] == [[6938, 0.268519]]
    assert page.locator("#search-empty").is_hidden()
    assert _fits_and_passes(page, "job-searching") == NO_PROBLEMS

    folder = job_out_dir(job)
    report = engine_report(folder, search=SEARCH, teacher_note=TEST_NOTE)
    (folder / "MODEL_CARD.md").write_text(CARD)
    assert off_the_browser_loop(job_complete, job=job, token=token, report=report)
    page.wait_for_selector("#search-why", timeout=15_000)  # the page reloads on the completed event
    assert page.locator("#search-trials tr").count() == 9
    chosen = page.locator("#search-trials tr[data-chosen]")
    assert chosen.get_attribute("data-trial") == "1" and "chosen" in chosen.inner_text()
    assert "Chosen: trial 2" in page.locator("#search-why").inner_text()
    assert "distillation lost 0.0463" in page.locator("#search-labels-only").inner_text()
    assert "probably trained on these rows" in page.locator("#teacher-test-note").inner_text()
    page.wait_for_function("() => document.getElementById('search-chart').dataset.state !== 'loading'")
    assert _search_points(page)["chosen"] == [[7210, 0.75463]]
    assert page.evaluate("() => document.getElementById('search-chart').layout.xaxis.type") == "log"
    assert _fits_and_passes(page, "job-search-completed") == NO_PROBLEMS
    assert page.js_errors == []
