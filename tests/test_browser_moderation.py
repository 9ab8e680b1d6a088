"""The moderation console and the operations page in a real browser: a moderator clears the three
queues (the tripped jobs with the keyboard alone), then reads the audit log, the accounts and listings
pages and the operations charts; every page passes axe and fits a phone (var/screenshots/)."""

import pytest

from marketplace.tests.conftest import catalog_home, completed_job, listed, make_unfunded_user, make_user  # noqa: F401
from moderation.tests.conftest import flagged, moderator, reported, tripped  # noqa: F401 - fixtures
from marketplace.models import ListingReport
from safety.models import FlaggedUpload, SafetyReport

from .browser import fits_and_passes_axe, log_in, off_the_browser_loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_PROBLEMS = {"axe": [], "wider than 390px": []}


def _queues(make_user, tripped, flagged, reported):
    ada, bob = make_user("ada"), make_user("bob")
    jobs = [tripped(ada), tripped(bob)]
    uploads = [flagged(ada, "weights.pkl")]
    listing = reported(ada)
    return jobs, uploads, listing


def _decided(report_ids):
    return sorted(SafetyReport.objects.filter(pk__in=report_ids).values_list("breaker_state", flat=True))


def test_a_moderator_clears_the_three_queues(browser_page, make_user, moderator, tripped, flagged, reported):
    jobs, uploads, listing = off_the_browser_loop(_queues, make_user, tripped, flagged, reported)
    page = browser_page
    log_in(page, "mo", next_path="/moderation/")
    assert page.locator("#waiting-jobs").inner_text() == "2"
    assert fits_and_passes_axe(page, "moderation-console") == NO_PROBLEMS

    # the tripped jobs, by keyboard alone: the first item has the focus when the page opens
    page.get_by_role("link", name="Tripped jobs").first.click()
    page.wait_for_url("**/moderation/tripped-jobs/")
    first, second = (f"#item-{report.pk}" for report in jobs)
    page.wait_for_function(f"() => document.activeElement === document.querySelector('{first}')")
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    assert fits_and_passes_axe(page, "moderation-jobs") == NO_PROBLEMS
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_hidden()
    page.keyboard.press("j")
    assert page.evaluate(f"() => document.activeElement === document.querySelector('{second}')")
    page.keyboard.press("k")
    page.keyboard.press("a")
    assert page.locator(f"{first} input[value=approve]").is_checked()
    page.keyboard.type("the toxic outputs quote the data set")
    page.keyboard.press("Control+Enter")
    page.locator(".messages", has_text="Approve for deploy: done").wait_for()
    page.wait_for_function(f"() => document.activeElement === document.querySelector('{second}')")
    page.keyboard.press("r")
    page.keyboard.type("harmful outputs")
    page.keyboard.press("Control+Enter")
    page.locator("#queue-empty").wait_for()
    assert off_the_browser_loop(_decided, [report.pk for report in jobs]) == ["approved", "rejected"]

    # a decision without a reason is held back by the browser and nothing is decided
    page.get_by_role("link", name="Flagged uploads").click()
    page.wait_for_url("**/moderation/flagged-uploads/")
    assert fits_and_passes_axe(page, "moderation-uploads") == NO_PROBLEMS
    item = page.locator(f"#item-{uploads[0].pk}")
    item.get_by_label("Reject: a confirmed attack").check()
    item.get_by_role("button", name="Decide").click()
    assert page.url.endswith("/moderation/flagged-uploads/") and item.is_visible()
    item.get_by_label("Reason").fill("a reverse shell")
    item.get_by_role("button", name="Decide").click()
    page.locator("#queue-empty").wait_for()
    assert off_the_browser_loop(lambda: FlaggedUpload.objects.get().status) == "rejected"

    page.get_by_role("link", name="Reported listings").click()
    page.wait_for_url("**/moderation/reported-listings/")
    assert page.locator(".reports li").count() == 2
    assert fits_and_passes_axe(page, "moderation-reports") == NO_PROBLEMS
    page.keyboard.press("r")
    page.keyboard.type("a copy of a catalog model")
    page.keyboard.press("Control+Enter")
    page.locator("#queue-empty").wait_for()
    assert set(off_the_browser_loop(lambda: list(ListingReport.objects.values_list("status", flat=True)))) == {"actioned"}
    assert page.locator("#count-jobs").inner_text() == "0" and page.locator("#count-reports").inner_text() == "0"

    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/moderation/audit/")
    assert page.locator("#audit-table tbody tr").count() == 4  # approve, reject, reject (upload), suspend_listing
    assert fits_and_passes_axe(page, "moderation-audit") == NO_PROBLEMS
    page.get_by_label("Action").select_option("reject")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/moderation/audit/?*action=reject*")
    assert page.locator("#audit-table tbody tr").count() == 2

    page.get_by_role("link", name="Listings").last.click()
    page.wait_for_url("**/moderation/listings/")
    assert page.get_by_role("button", name="Reinstate Suspicious digits").is_visible()
    assert fits_and_passes_axe(page, "moderation-listings") == NO_PROBLEMS

    page.get_by_role("link", name="Accounts").click()
    page.wait_for_url("**/moderation/users/")
    page.get_by_role("textbox", name="Find").fill("ada")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("button", name="Suspend ada").wait_for()
    assert fits_and_passes_axe(page, "moderation-users") == NO_PROBLEMS
    assert page.js_errors == []


def test_a_moderator_reads_the_operations_charts(browser_page, make_user, moderator, tripped):
    off_the_browser_loop(tripped, off_the_browser_loop(make_user, "ada"))
    page = browser_page
    log_in(page, "mo", next_path="/moderation/operations/")

    page.wait_for_function("() => [...document.querySelectorAll('[data-chart]')].every((el) => el.dataset.state !== 'loading')")
    assert page.locator("[data-chart][data-state=drawn]").count() == 6, page.js_errors
    assert page.locator("#running-now").inner_text() == "0"
    assert fits_and_passes_axe(page, "operations-day") == NO_PROBLEMS
    page.get_by_role("link", name="Last week").click()
    page.wait_for_url("**/moderation/operations/?window=week")
    page.wait_for_function("() => [...document.querySelectorAll('[data-chart]')].every((el) => el.dataset.state !== 'loading')")
    assert page.locator("[data-chart][data-state=drawn]").count() == 6, page.js_errors
    assert fits_and_passes_axe(page, "operations-week") == NO_PROBLEMS
    assert page.js_errors == []
