"""The shared pages through a real browser: the layout's navigation, the job page's chart, who may
see what, accessibility (axe-core) and phone width, with screenshots in var/screenshots/."""

import pytest

from accounts.services import user_create
from distillation import selectors
from distillation.services import distillation_job_create, job_complete, job_event_append, job_lease_acquire
from distillation.tests.conftest import catalog_home  # noqa: F401 - the digits-mlp teacher, built once
from ledger.amounts import display_ftns
from ledger.selectors import wallet_balance
from prsm.request import DistillationRequest
from tests.browser import (DESKTOP, PASSWORD, log_in, off_the_browser_loop, screenshot, serious_violations,
                           submit_login_form, wider_than_a_phone)

pytestmark = pytest.mark.browser

REQUEST = {"teacher_model": "catalog:digits-mlp", "domain": "digits", "budget_ftns": 1000, "epochs": 3}
# What the training loop's metric events carry: one per epoch at its global step.
EPOCHS = [{"epoch": 1, "train_loss": 1.21, "val_accuracy": 0.62, "val_loss": 1.05},
          {"epoch": 2, "train_loss": 0.64, "val_accuracy": 0.81, "val_loss": 0.59},
          {"epoch": 3, "train_loss": 0.38, "val_accuracy": 0.9, "val_loss": 0.41}]


def _user(username):
    return user_create(username=username, password=PASSWORD, email=f"{username}@example.com")


def _trained_job(owner, *, complete: bool):
    """A job taken through the services: created, leased, its metric events stored (teacher
    accuracy, then one per epoch), and completed when asked; running otherwise."""
    job = distillation_job_create(owner=owner, request=DistillationRequest.model_validate(REQUEST))
    job, token = job_lease_acquire(job_id=job.job_id)
    job_event_append(job=job, type="metric", payload={"stage": "prepare", "metrics": {"teacher_accuracy": 0.95}},
                     token=token)
    for index, metrics in enumerate(EPOCHS):
        job_event_append(job=job, type="metric", payload={"stage": "train", "metrics": metrics, "step": 40 * (index + 1)},
                         token=token, fields={"progress": 20.0 + 20 * index, "current_stage": "train"})
    if complete:
        report = {"retention": 0.9456, "compression_ratio": 46.3, "speedup": 1.9, "checks": {},
                  "stages": {"train": {"seconds": 1.0}}}
        assert job_complete(job=job, token=token, report=report)
    job.refresh_from_db()
    return job, token


@pytest.fixture
def ada(transactional_db):
    return off_the_browser_loop(_user, "ada")


@pytest.fixture
def finished_job(catalog_home, ada):  # noqa: F811
    return off_the_browser_loop(_trained_job, ada, complete=True)[0]


@pytest.fixture
def running_job(catalog_home, ada):  # noqa: F811
    return off_the_browser_loop(_trained_job, ada, complete=False)


def _plotted(page, chart_id="metrics-chart"):
    page.wait_for_selector(f"#{chart_id}[data-state=drawn]")
    return page.evaluate("""(id) => document.getElementById(id).data.map(
        (trace) => ({key: trace.meta, name: trace.name, x: Array.from(trace.x), y: Array.from(trace.y)}))""", chart_id)


def test_a_visitor_opening_my_jobs_is_sent_to_log_in_and_back(browser_page, ada):
    browser_page.goto("/jobs/")

    assert "/accounts/login/?next=/jobs/" in browser_page.url
    submit_login_form(browser_page, "ada")
    assert browser_page.url.endswith("/jobs/")
    assert browser_page.get_by_role("heading", name="My jobs").is_visible()


def test_the_navigation_shows_the_balance_and_marks_the_current_page(browser_page, finished_job):
    log_in(browser_page, "ada", next_path="/jobs/")
    nav = browser_page.get_by_role("navigation", name="Main")

    balance = off_the_browser_loop(wallet_balance, user=finished_job.owner)
    assert " ".join(nav.locator("#nav-balance").text_content().split()) == f"Balance: {display_ftns(balance)} FTNS"
    assert nav.locator("[aria-current=page]").all_inner_texts() == ["My jobs"]

    browser_page.goto(f"/jobs/{finished_job.job_id}/")  # inside My jobs: the section is marked
    assert nav.locator("[aria-current]").all_inner_texts() == ["My jobs"]
    browser_page.goto("/")
    assert browser_page.locator("[aria-current=page]").all_inner_texts() == ["PRSM Distill"]
    assert browser_page.js_errors == []


def test_the_job_page_charts_the_jobs_metric_series(browser_page, finished_job):
    log_in(browser_page, "ada", next_path=f"/jobs/{finished_job.job_id}/")

    plotted = _plotted(browser_page)

    series = off_the_browser_loop(selectors.job_metric_series, finished_job)["series"]
    assert [line["name"] for line in plotted] == ["training loss", "validation accuracy"]
    assert [len(line["x"]) for line in plotted] == [len(line["x"]) for line in series] == [3, 3]
    assert [(line["x"], line["y"]) for line in plotted] == [(line["x"], line["y"]) for line in series]
    assert plotted[0]["y"] == [epoch["train_loss"] for epoch in EPOCHS]
    served = browser_page.evaluate(f"() => fetch('/jobs/{finished_job.job_id}/metrics.json').then((r) => r.json())")
    assert served["series"] == series and served["references"][0]["y"] == 0.95
    assert browser_page.js_errors == []


def test_a_live_metric_event_adds_its_points_once(browser_page, running_job):
    job, token = running_job
    log_in(browser_page, "ada", next_path=f"/jobs/{job.job_id}/")
    assert [len(line["x"]) for line in _plotted(browser_page)] == [3, 3]
    browser_page.wait_for_function("() => document.querySelectorAll('#events li').length > 0")  # replay done

    metrics = {"epoch": 4, "train_loss": 0.3, "val_accuracy": 0.93}
    off_the_browser_loop(job_event_append, job=job, type="metric", token=token,
                         payload={"stage": "train", "metrics": metrics, "step": 160})

    browser_page.wait_for_function("() => document.getElementById('metrics-chart').data[0].x.length === 4")
    plotted = _plotted(browser_page)
    assert [line["x"] for line in plotted] == [[40, 80, 120, 160]] * 2
    assert plotted[1]["y"][-1] == 0.93


def test_another_users_job_and_its_series_are_a_404(browser_page, finished_job):
    off_the_browser_loop(_user, "eve")
    log_in(browser_page, "eve")

    assert browser_page.goto(f"/jobs/{finished_job.job_id}/").status == 404
    assert browser_page.goto(f"/jobs/{finished_job.job_id}/metrics.json").status == 404


def test_the_pages_pass_axe_and_fit_a_phone(browser_page, finished_job):
    page, problems = browser_page, {}

    def check(name, path):
        page.set_viewport_size(DESKTOP)
        page.goto(path)
        if page.locator("[data-chart]").count():
            page.wait_for_selector("[data-chart][data-state=drawn]")
        screenshot(page, f"{name}-desktop")
        violations = serious_violations(page)
        too_wide = wider_than_a_phone(page)
        screenshot(page, f"{name}-390px")
        if violations or too_wide:
            problems[name] = {"axe": violations, "wider than 390px": too_wide}

    check("home-visitor", "/")
    check("login", "/accounts/login/")
    check("signup", "/accounts/signup/")
    log_in(page, "ada")
    check("home", "/")
    check("jobs", "/jobs/")
    check("job", f"/jobs/{finished_job.job_id}/")

    assert problems == {}
    assert page.js_errors == []
