""""Try it" in a real browser against real Daphne, a worker and the serving pool: the owner of a real
distilled digits model deploys it from the job page, pastes a feature row and sees the label and the chart
of its probabilities; a second user tries the listed model until the daily free quota (2 here) is spent;
My models shows the model live with its curl example. axe-core and 390 px on each, with screenshots in
var/screenshots/."""

import pytest

from accounts.services import user_create
from distillation.models import DeployedModel
from serving.models import Prediction
from serving.tests.conftest import catalog_home, digits_export, served_job  # noqa: F401 - fixtures

from .browser import (
    DESKTOP,
    PASSWORD,
    PHONE,
    SCREENSHOTS,
    fits_and_passes_axe,
    log_in,
    off_the_browser_loop,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_PROBLEMS = {"axe": [], "wider than 390px": []}
FREE_TRIES = 2


@pytest.fixture
def free_tries_of_two(subprocess_env):
    """The server's daily free quota, set before live_daphne starts with this environment."""
    subprocess_env["TRY_IT_FREE_PER_DAY"] = str(FREE_TRIES)


def _user(username):
    return user_create(username=username, password=PASSWORD, email=f"{username}@example.com")


def _csv_row(index: int) -> str:
    from prsm.engine.data.builtin import load_builtin

    return ",".join(f"{value:g}" for value in load_builtin("digits").features[index])


def _predict_row(page, index: int) -> None:
    form = page.locator("#try-it-form")
    form.get_by_label("Paste a CSV row").fill(_csv_row(index))
    form.get_by_role("button", name="Predict").click()


def _section_shots(page, name: str) -> None:
    """The "Try it" section alone at desktop and phone width (var/screenshots/<name>[-390px].png), to look at."""
    for size, suffix in ((DESKTOP, ""), (PHONE, "-390px")):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)  # the chart redraws on resize
        page.locator("#try-it").screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"))
    page.set_viewport_size(DESKTOP)


def test_the_owner_deploys_and_tries_it_and_a_visitor_tries_until_the_quota_is_spent(
        free_tries_of_two, browser_page, live_daphne, serving_pool, start_worker, served_job):  # noqa: F811
    serving_pool(workers=1)
    start_worker(queues=("default",))  # warms the model in the pool after deploy
    ada = off_the_browser_loop(_user, "ada")
    off_the_browser_loop(_user, "bob")
    job = off_the_browser_loop(served_job, ada)
    page = browser_page

    log_in(page, "ada", next_path=f"/jobs/{job.job_id}/")
    page.locator("#deploy-form").get_by_role("button", name="Deploy").click()
    page.wait_for_selector("#deployed")
    deployment = off_the_browser_loop(lambda: DeployedModel.objects.get(job__job_id=job.job_id))

    page.locator("#try-it-form").wait_for()  # loaded by htmx once the page is shown
    assert page.locator("#try-it-form [data-feature]").count() == 64
    _predict_row(page, 0)
    page.locator("#try-it-chart[data-state=drawn]").wait_for()
    assert page.locator("#try-it-label").inner_text() in [str(n) for n in range(10)]
    assert page.locator("#try-it-chart .bars .point").count() == 10  # one bar per digit
    assert page.locator("#try-it-table tbody tr").count() == 10
    assert page.evaluate("() => document.activeElement.id") == "try-it-result"
    assert "answered in" in page.locator("#try-it-meta").inner_text()
    assert page.locator("[name=feature_0]").input_value() == _csv_row(0).split(",")[0]
    page.locator("#try-it .feature-row summary").click()  # the 64 inputs the pasted row filled
    assert fits_and_passes_axe(page, "try-it-job-page") == NO_PROBLEMS
    _section_shots(page, "try-it-owner-answer")

    page.get_by_label("Price to buy (FTNS)").fill("12.5")
    page.locator("#list-form").get_by_role("button", name="List on the marketplace").click()
    page.wait_for_selector("#listed")

    page.get_by_role("link", name="My models").first.click()
    row = page.locator(f"tr[data-model-id='{deployment.model_id}']")
    assert "live" in row.inner_text() and "1" in row.locator(".predictions-count").inner_text()
    call = page.locator(f"#call-{deployment.model_id.hex}")
    call.locator("summary").click()
    assert "curl -X POST" in call.locator("pre").inner_text()
    assert fits_and_passes_axe(page, "try-it-my-models") == NO_PROBLEMS

    page.get_by_role("button", name="Log out").click()
    listing_id = off_the_browser_loop(lambda: DeployedModel.objects.get(pk=deployment.pk).listing.listing_id)
    log_in(page, "bob", next_path=f"/marketplace/{listing_id}/")
    page.locator("#try-it-form").wait_for()
    assert f"{FREE_TRIES} of {FREE_TRIES} free tries left today" in page.locator("#try-it-quota").inner_text()
    for tries in range(1, FREE_TRIES + 1):
        _predict_row(page, tries)
        page.locator("#try-it-quota", has_text=(f"{FREE_TRIES - tries} of {FREE_TRIES}" if tries < FREE_TRIES
                                                 else "You have used today's")).wait_for()
        page.locator("#try-it-chart[data-state=drawn]").wait_for()
    assert page.locator("#try-it-form").get_by_role("button", name="Predict").is_disabled()
    assert "Buy or rent the model" in page.locator("#try-it-quota").inner_text()
    assert fits_and_passes_axe(page, "try-it-listing-quota-spent") == NO_PROBLEMS
    _section_shots(page, "try-it-quota-spent")

    accesses = off_the_browser_loop(lambda: sorted(Prediction.objects.values_list("access", flat=True)))
    assert accesses == ["owner", "trial", "trial"]
    assert page.js_errors == []
