"""The marketplace in a real browser: a buyer searches, opens a listing, confirms the purchase and
sees the download; both pages pass axe and fit a phone, with screenshots in var/screenshots/."""

import pytest

from accounts.services import user_create
from ledger.tests.factories import fund
from marketplace.models import Purchase
from marketplace.tests.conftest import catalog_home, completed_job, listed  # noqa: F401 - fixtures
from safety.tests.conftest import check  # noqa: F401 - a fixture the report needs

from .browser import PASSWORD, fits_and_passes_axe, log_in, off_the_browser_loop, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _funded(username):
    user = user_create(username=username, password=PASSWORD, email=f"{username}@example.com")
    fund(user, 1000)  # the signup grant is promotional credit, which never pays a purchase
    return user


def test_a_buyer_searches_opens_a_listing_buys_it_and_sees_the_download(browser_page, live_daphne, listed):
    ada = off_the_browser_loop(_funded, "ada")
    off_the_browser_loop(_funded, "bob")
    off_the_browser_loop(listed, ada, title="Sentiment, tiny", domain="sentiment", buy=30)
    listing = off_the_browser_loop(listed, ada, title="Handwritten digits, small", buy=12, rent=3, retention=0.93)
    page = browser_page

    log_in(page, "bob", next_path="/marketplace/")
    page.get_by_label("Search").fill("small")
    page.wait_for_url("**/marketplace/?q=small*")  # htmx keeps the query in the URL
    page.locator("#search-count", has_text="1 model found").wait_for()
    assert page.locator(".listing-result").count() == 1
    assert fits_and_passes_axe(page, "marketplace-search") == {"axe": [], "wider than 390px": []}

    page.get_by_role("link", name="Handwritten digits, small").click()
    page.wait_for_url(f"**/marketplace/{listing.listing_id}/")
    assert fits_and_passes_axe(page, "marketplace-listing") == {"axe": [], "wider than 390px": []}

    page.locator("#buy-button").click()
    assert page.locator("#balance-after").inner_text() == "988.00 FTNS"
    assert fits_and_passes_axe(page, "marketplace-listing-confirm") == {"axe": [], "wider than 390px": []}
    page.locator("#confirm-purchase").dblclick()  # a double click pays once
    page.locator("#downloads").wait_for()
    assert "Bought “Handwritten digits, small” for 12.00 FTNS" in page.locator(".messages").inner_text()
    assert page.get_by_role("link", name="Download onnx of Handwritten digits, small").is_visible()
    assert off_the_browser_loop(lambda: Purchase.objects.filter(listing=listing).count()) == 1
    screenshot(page, "marketplace-listing-bought")
    assert page.js_errors == []
