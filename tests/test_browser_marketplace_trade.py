"""What I sell and my library in a real browser: the seller sees a sale, its revenue drawn by day and
changes a price; the buyer's library shows the purchase with its download; axe-core and 390 px on
both, with screenshots in var/screenshots/."""

import pytest

from marketplace import services
from marketplace.models import Listing
from marketplace.tests.conftest import catalog_home, completed_job, listed, make_unfunded_user, make_user  # noqa: F401 - fixtures
from tests.browser import DESKTOP, log_in, off_the_browser_loop, screenshot, serious_violations, wider_than_a_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sold(make_user, listed):  # noqa: F811 - the fixtures' factories
    ada, bob = make_user("ada"), make_user("bob")
    listing = listed(ada, title="digits classifier", buy=10, rent=2)
    services.listing_purchase(listing=listing, buyer=bob, kind="buy", expected_price=listing.price_buy)
    return listing


def _fits_and_passes(page, name):
    page.set_viewport_size(DESKTOP)
    if page.locator("[data-chart]").count():
        page.wait_for_function("() => [...document.querySelectorAll('[data-chart]')]"
                               ".every((el) => el.dataset.state !== 'loading')")
    screenshot(page, name)
    problems = {"axe": serious_violations(page), "wider than 390px": wider_than_a_phone(page)}
    screenshot(page, f"{name}-390px")
    page.set_viewport_size(DESKTOP)
    return problems


NO_PROBLEMS = {"axe": [], "wider than 390px": []}


def test_the_seller_sees_the_sale_and_changes_a_price_and_the_buyer_finds_it_in_the_library(
        browser_page, make_user, listed):  # noqa: F811
    page, listing = browser_page, off_the_browser_loop(_sold, make_user, listed)
    log_in(page, "ada", next_path="/marketplace/selling/")

    card = page.locator(f"#listing-{listing.listing_id}")
    assert card.locator("[data-figure=sales]").inner_text() == "1"
    assert card.locator("[data-figure=revenue]").inner_text() == "7.00 FTNS"  # 70% of 10 FTNS
    page.wait_for_function("() => document.getElementById('revenue-chart').dataset.state !== 'loading'")
    assert page.locator("#revenue-chart").get_attribute("data-state") == "drawn", page.js_errors
    drawn = page.evaluate("() => document.getElementById('revenue-chart').data.map((t) => Array.from(t.y))")
    assert drawn == [[7.0]]
    assert page.locator("#revenue-chart-empty").is_hidden()
    assert _fits_and_passes(page, "marketplace-selling") == NO_PROBLEMS

    card.get_by_label("Price to buy (FTNS)").fill("12.5")
    card.get_by_role("button", name="Save prices").click()
    page.wait_for_url(f"**/marketplace/selling/#listing-{listing.listing_id}")
    assert "New prices for “digits classifier” saved." in page.locator(".messages").inner_text()
    assert card.locator("[data-figure=prices]").inner_text().startswith("12.50 FTNS to buy")
    assert off_the_browser_loop(lambda: Listing.objects.get(pk=listing.pk).price_buy) == 12_500_000
    assert page.js_errors == []

    page.context.clear_cookies()
    log_in(page, "bob", next_path="/marketplace/library/")
    row = page.locator(f"#library-table tr[data-listing-id='{listing.listing_id}']")
    assert row.get_by_role("link", name="digits classifier", exact=True).get_attribute("href") == f"/marketplace/{listing.listing_id}/"
    assert "10.00 FTNS" in row.inner_text() and "bought" in row.inner_text()
    download = row.get_by_role("link", name="Download onnx of digits classifier")
    assert download.get_attribute("href") == f"/api/v1/marketplace/models/{listing.listing_id}/download/?format=onnx"
    assert _fits_and_passes(page, "marketplace-library") == NO_PROBLEMS
    assert page.js_errors == []
