"""The account page and the home page through a real browser: an API token made, shown once,
used over HTTP and revoked; a notification arriving live; home for visitors and signed-in users;
axe-core and phone width, with screenshots in var/screenshots/."""

import json
import urllib.error
import urllib.request

import pytest

from accounts.services import notification_send, user_create
from distillation.models import DistillationJob
from tests.browser import PASSWORD, fits_and_passes_axe, log_in, off_the_browser_loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _user(username):
    return user_create(username=username, password=PASSWORD, email=f"{username}@example.com")


@pytest.fixture
def ada(transactional_db):
    return off_the_browser_loop(_user, "ada")


def _me(base_url: str, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base_url}/api/v1/me/", headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # nosec B310 - the test's own server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_token_is_made_shown_once_used_and_revoked(browser_page, live_daphne, ada):
    page = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_daphne)
    log_in(page, "ada", next_path="/account/")

    page.get_by_label("Token name").fill("notebook")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_url("**/account/#new-key")

    key = page.get_by_label("Key", exact=True).input_value()
    assert key.startswith("prsm_")
    assert "it will not be shown again" in page.locator("#new-key").inner_text()
    assert page.evaluate("() => document.activeElement.id") == "new-key"
    page.get_by_role("button", name="Copy").click()
    page.wait_for_function("() => document.getElementById('copy-status').textContent.includes('Copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == key
    assert _me(live_daphne, key) == (200, _me(live_daphne, key)[1]) and _me(live_daphne, key)[1]["username"] == "ada"
    assert fits_and_passes_axe(page, "account") == {"axe": [], "wider than 390px": []}

    page.reload()
    assert page.locator("#new-key").count() == 0 and key not in page.content()
    row = page.locator("#tokens-table tbody tr")
    assert row.count() == 1 and "notebook" in row.inner_text() and key[:11] in row.inner_text()
    assert "never" not in row.inner_text()  # the request above marked it used

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke “notebook”").focus()
    page.keyboard.press("Enter")  # by keyboard alone
    page.wait_for_selector("text=revoked: its key no longer works")
    assert page.locator("#tokens-table").count() == 0
    assert _me(live_daphne, key)[0] == 401
    assert page.js_errors == []


def test_a_revoke_is_not_sent_when_the_confirmation_is_dismissed(browser_page, live_daphne, ada):
    page = browser_page
    log_in(page, "ada", next_path="/account/")
    page.get_by_label("Token name").fill("ci")
    page.get_by_role("button", name="Create token").click()
    key = page.get_by_label("Key", exact=True).input_value()

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Revoke “ci”").click()

    assert page.locator("#tokens-table tbody tr").count() == 1
    assert _me(live_daphne, key)[0] == 200


def test_a_notification_appears_on_the_open_page_without_a_reload(browser_page, ada):
    page = browser_page
    log_in(page, "ada", next_path="/account/")
    page.wait_for_selector("#notifications[data-state=live]", state="attached")
    assert page.locator("#notifications-empty").is_visible()
    page.evaluate("() => { window.stillTheSamePage = true; }")

    off_the_browser_loop(notification_send, user=ada, kind="job_completed",
                         message="Your job finished: retention 96.5%", link="/jobs/")

    item = page.locator("#notifications li").first
    item.wait_for()
    assert "Your job finished: retention 96.5%" in item.inner_text() and "Job completed" in item.inner_text()
    assert item.get_by_role("link").get_attribute("href") == "/jobs/"
    assert page.evaluate("() => window.stillTheSamePage") is True
    assert page.locator("#notifications-empty").is_hidden()
    assert page.locator("#notifications").get_attribute("aria-live") == "polite"
    assert fits_and_passes_axe(page, "account-notification") == {"axe": [], "wider than 390px": []}
    assert page.js_errors == []


def _jobs(owner):
    for status, progress in (("completed", 100), ("running", 40), ("failed", 20)):
        DistillationJob.objects.create(
            owner=owner, request={}, engine_config={}, backend="pytorch", backend_reason="a zoo teacher",
            cost_estimate_ftns=181, estimate={"teacher": "catalog:digits-mlp", "dataset": "builtin:digits"},
            status=status, progress=progress)


def test_home_for_a_visitor_and_for_a_signed_in_user(browser_page, ada):
    page = browser_page
    page.goto("/")
    assert page.get_by_text("Example result").is_visible()
    assert page.get_by_role("link", name="Sign up free").get_attribute("href") == "/accounts/signup/"
    assert fits_and_passes_axe(page, "home-visitor") == {"axe": [], "wider than 390px": []}

    off_the_browser_loop(_jobs, ada)
    log_in(page, "ada")
    assert page.get_by_role("link", name="Distill a model").first.get_attribute("href") == "/distill/"
    assert page.locator("#recent-jobs .badge").all_inner_texts() == ["failed", "running", "completed"]
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="ada").get_attribute("href") == "/account/"
    assert fits_and_passes_axe(page, "home-signed-in") == {"axe": [], "wider than 390px": []}
    assert page.js_errors == []
