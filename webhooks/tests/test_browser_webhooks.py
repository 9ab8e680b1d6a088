"""The webhooks pages through a real browser: a refusal beside the URL field, an endpoint added with its
secret shown once and copied, a test event and a failed delivery listed with their answers, a re-send,
disable, delete; axe-core and phone width, with screenshots in var/screenshots/."""

import pytest
from django.db import transaction

from accounts.services import user_create
from tests.browser import PASSWORD, fits_and_passes_axe, log_in, off_the_browser_loop
from webhooks import services
from webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLEAN = {"axe": [], "wider than 390px": []}


@pytest.fixture
def ada(transactional_db):
    return off_the_browser_loop(user_create, username="ada", password=PASSWORD, email="ada@example.com")


def _deliver_what_is_pending():
    for delivery in WebhookDelivery.objects.filter(status="pending"):
        services.webhook_delivery_attempt(delivery_id=str(delivery.delivery_id), attempt=delivery.attempt_count + 1)


def _a_job_fails(user):
    with transaction.atomic():
        services.event_emit(user=user, type="job.failed", data={"job_id": "5b7d", "status": "failed",
                                                                "error": "the teacher could not be loaded"})


def test_an_endpoint_is_added_tried_and_managed_in_the_browser(browser_page, live_daphne, ada, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS_S = []  # this process makes the attempts below: one each
    page = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_daphne)
    log_in(page, "ada", next_path="/account/webhooks/")
    assert page.get_by_text("No endpoints yet.").is_visible()

    page.get_by_label("Endpoint URL").fill("http://10.0.0.8/hook")
    page.get_by_role("button", name="Add endpoint").click()
    error = page.locator("#id_url_error")
    assert "WEBHOOK_HOSTS_ALLOW" in error.inner_text()
    assert page.get_by_label("Endpoint URL").get_attribute("aria-describedby").split().count("id_url_error") == 1
    assert fits_and_passes_axe(page, "webhooks-refused") == CLEAN

    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_label("job.failed").check()
    page.get_by_label("Description (optional)").fill("CI pipeline")
    page.get_by_role("button", name="Add endpoint").click()
    page.wait_for_url("**#new-secret")
    secret = page.get_by_label("Secret", exact=True).input_value()
    assert secret.startswith("whsec_") and "it will not be shown again" in page.locator("#new-secret").inner_text()
    assert page.evaluate("() => document.activeElement.id") == "new-secret"
    page.get_by_role("button", name="Copy").click()
    page.wait_for_function("() => document.getElementById('copy-status').textContent.includes('Copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    assert fits_and_passes_axe(page, "webhook-new-secret") == CLEAN

    page.get_by_role("button", name="Send a test event").click()
    page.wait_for_selector("text=Test event queued")
    assert secret not in page.content()
    receiver.answers = [(200, b'{"ok": true}', 0), (500, b'{"error": "the database is down"}', 0)]
    off_the_browser_loop(_deliver_what_is_pending)
    off_the_browser_loop(_a_job_fails, ada)
    off_the_browser_loop(_deliver_what_is_pending)
    page.reload()
    rows = page.locator("#deliveries-table tbody tr")
    assert rows.count() == 2
    assert "job.failed" in rows.nth(0).inner_text() and "HTTP 500" in rows.nth(0).inner_text()
    assert "failed" in rows.nth(0).locator(".badge").inner_text()
    assert "ping" in rows.nth(1).inner_text() and "HTTP 200" in rows.nth(1).inner_text()
    rows.nth(0).get_by_text("Body").click()
    assert "the database is down" in rows.nth(0).locator("pre").inner_text()
    assert len(receiver.verified(secret)) == 2
    assert fits_and_passes_axe(page, "webhook-endpoint") == CLEAN

    rows.nth(0).get_by_role("button", name="Re-send").click()
    page.wait_for_selector("text=is queued again")
    assert "pending" in page.locator("#deliveries-table tbody tr").nth(0).inner_text()

    page.get_by_role("button", name="Disable").click()
    page.wait_for_selector("text=Endpoint disabled")
    assert page.get_by_role("button", name="Enable").is_visible()
    page.goto("/account/webhooks/")
    row = page.locator("#endpoints-table tbody tr")
    assert "disabled" in row.inner_text() and "CI pipeline" in row.inner_text() and secret[:10] in row.inner_text()
    assert fits_and_passes_axe(page, "webhooks") == CLEAN

    row.get_by_role("link").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_selector("text=No endpoints yet.")
    assert [error for error in page.js_errors if "status of 400" not in error] == []  # the refused form's answer
