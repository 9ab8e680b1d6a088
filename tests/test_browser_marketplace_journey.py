"""The marketplace's journeys in a real browser against a real Daphne: a seller lists a model from its job
page; a buyer finds it by a misspelt word of its model card, narrows the results with two filters, buys
it (a double click pays once), rates and reviews it, downloads it and checks its sha256; the seller sees
the sale and its revenue; a renter's access ends when the rent does (the test clock moves, nothing
sleeps); a moderator suspends a reported listing and it leaves search and the buyer's downloads."""

import hashlib

import pytest

from core import clock
from marketplace import services
from marketplace.models import Listing, Purchase, Rating
from marketplace.tests.conftest import catalog_home, completed_job, listed, make_user  # noqa: F401 - fixtures
from safety.tests.conftest import check  # noqa: F401 - a fixture the report needs
from safety.tests.conftest import make_user as make_unfunded_user  # noqa: F401 - a fixture

from .browser import fits_and_passes_axe, log_in, off_the_browser_loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOTHING_WRONG = {"axe": [], "wider than 390px": []}
CARD = """# Postcode reader

Reads the handwritten digits of postcodes on scanned envelopes, one digit at a time.
"""


@pytest.fixture
def clock_reset():
    yield
    clock.clock_reset()


def _listing_of(job_id) -> Listing:
    return Listing.objects.select_related("deployment__job").get(deployment__job__job_id=job_id)


def _competitors(make_user, listed):  # noqa: F811 - the fixtures' factories
    carl = make_user("carl")
    # two that also read envelopes (one too dear, one too rough; two models, so two domains) and one that does not
    listed(carl, title="Mail sorter, large", domain="mail", buy=40, rent=25, retention=0.97, model_card="Reads envelopes, carefully.")
    listed(carl, title="Mail sorter, rough", domain="post", buy=5, rent=1, retention=0.70, model_card="Reads envelopes, roughly.")
    listed(carl, title="Movie review sentiment", domain="sentiment", buy=9, model_card="Reads film reviews.")


def test_a_listed_model_is_found_by_a_misspelt_word_bought_once_rated_downloaded_and_seen_by_its_seller(
        browser_page, make_user, completed_job, listed):  # noqa: F811
    page = browser_page
    ada, _ = off_the_browser_loop(make_user, "ada"), off_the_browser_loop(make_user, "bob")
    job = off_the_browser_loop(completed_job, ada, request={"domain": "digits"}, retention=0.93, model_card=CARD)
    off_the_browser_loop(_competitors, make_user, listed)

    # The seller lists the model from its job page, at the recommended price shown beside the form.
    log_in(page, "ada", next_path=f"/jobs/{job.job_id}/")
    form = page.locator("#list-form")
    form.get_by_label("Title").fill("Postcode reader")
    form.get_by_label("Price to buy (FTNS)").fill("12")
    form.get_by_label("Price to rent (FTNS a period)").fill("3")
    form.get_by_role("button", name="Deploy and list").click()
    page.locator(".messages", has_text="Listed on the marketplace as “Postcode reader”").wait_for()
    listing = off_the_browser_loop(_listing_of, job.job_id)

    # The buyer finds it by a word only its model card has, misspelt, then narrows with two filters.
    page.context.clear_cookies()
    log_in(page, "bob", next_path="/marketplace/")
    page.get_by_label("Search").fill("envelops")
    page.wait_for_url("**/marketplace/?q=envelops*")
    page.locator("#search-count").wait_for()
    found = page.locator(".listing-result")
    assert found.count() == 3  # the reader and the two sorters: their cards say "envelopes"
    assert str(listing.listing_id) in [found.nth(i).get_attribute("data-listing-id") for i in range(3)]
    page.get_by_label("Retention at least, %").fill("90")
    page.get_by_label("Price at most, FTNS").fill("20")
    page.wait_for_url("**min_retention=90*")
    page.locator("#search-count", has_text="1 model found").wait_for()
    assert found.count() == 1 and found.first.get_attribute("data-listing-id") == str(listing.listing_id)
    assert fits_and_passes_axe(page, "journey-search") == NOTHING_WRONG

    # Buys it: the confirmation shows the balance after; a double click pays once.
    found.first.get_by_role("link", name="Postcode reader").click()
    page.wait_for_url(f"**/marketplace/{listing.listing_id}/")
    page.locator("#buy-button").click()
    assert page.locator("#balance-after").inner_text() == "988.00 FTNS"
    page.locator("#confirm-purchase").dblclick()
    page.locator("#downloads").wait_for()
    assert off_the_browser_loop(lambda: Purchase.objects.filter(listing=listing).count()) == 1

    # Rates and reviews it.
    rating = page.locator("#rate-form")
    rating.get_by_label("5 stars").check()
    rating.get_by_label("Review").fill("Reads my scans right.")
    rating.get_by_role("button", name="Publish the rating").click()
    page.locator(".messages", has_text="your rating is published").wait_for()
    assert "Reads my scans right." in page.locator("#reviews").inner_text()
    assert off_the_browser_loop(lambda: list(Rating.objects.filter(listing=listing).values_list("stars", flat=True))) == [5]

    # Downloads it and checks the file against the sha256 the page shows.
    shown = page.locator("#downloads [data-format=onnx] .sha256").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download onnx of Postcode reader").click()
    body = open(download.value.path(), "rb").read()
    assert hashlib.sha256(body).hexdigest() == shown
    assert shown == off_the_browser_loop(lambda: listing.job.artifacts.get(format="onnx").sha256)
    assert fits_and_passes_axe(page, "journey-listing-bought") == NOTHING_WRONG

    # The seller sees the sale and the revenue: 70% of 12 FTNS.
    page.context.clear_cookies()
    log_in(page, "ada", next_path="/marketplace/selling/")
    card = page.locator(f"#listing-{listing.listing_id}")
    assert card.locator("[data-figure=sales]").inner_text() == "1"
    assert card.locator("[data-figure=revenue]").inner_text() == "8.40 FTNS"
    assert page.js_errors == []


def test_a_renters_access_ends_when_the_rent_does(browser_page, make_user, listed, clock_reset):  # noqa: F811
    page = browser_page
    ada = off_the_browser_loop(make_user, "ada")
    off_the_browser_loop(make_user, "rene")
    listing = off_the_browser_loop(listed, ada, title="Postcode reader", buy=12, rent=3)

    log_in(page, "rene", next_path=f"/marketplace/{listing.listing_id}/")
    page.locator("#rent-button").click()
    assert page.locator("#balance-after").inner_text() == "997.00 FTNS"
    page.locator("#confirm-purchase").click()
    page.locator("#downloads", has_text="You rent this model until").wait_for()
    download_url = f"/api/v1/marketplace/models/{listing.listing_id}/download/?format=onnx"
    assert page.request.get(download_url).status == 200

    clock.clock_advance(seconds=listing.rent_period_days * 86400 + 60)  # the server reads the same clock

    page.goto("/marketplace/library/")
    row = page.locator(f"#library-table tr[data-listing-id='{listing.listing_id}']")
    assert "expired" in row.inner_text() and "the rent has ended" in row.inner_text()
    assert row.get_by_role("link", name="Download onnx of Postcode reader").count() == 0
    assert page.request.get(download_url).status == 403
    page.goto(f"/marketplace/{listing.listing_id}/")
    assert page.locator("#downloads").count() == 0 and page.locator("#rent-button").is_visible()
    assert page.js_errors == []


def _reported(make_user, listed):  # noqa: F811
    ada, bob, mona = make_user("ada"), make_user("bob"), make_user("mona", moderator=True)
    listing = listed(ada, title="Postcode reader", buy=12, rent=3, model_card=CARD)
    services.listing_purchase(listing=listing, buyer=bob, kind="buy", expected_price=listing.price_buy)
    services.listing_report_create(listing=listing, reporter=bob, reason="a copy of a catalog model")
    return listing, mona


def test_a_suspended_listing_leaves_search_and_the_buyers_downloads(browser_page, make_user, listed):  # noqa: F811
    page = browser_page
    listing, _ = off_the_browser_loop(_reported, make_user, listed)

    log_in(page, "mona", next_path="/moderation/reported-listings/")
    item = page.locator(".queue-item").first
    item.get_by_label("Suspend the listing").check()
    item.get_by_label("Reason").fill("a copy of catalog:digits-mlp")
    item.get_by_role("button", name="Decide").click()
    page.locator("#queue-empty").wait_for()

    page.context.clear_cookies()
    log_in(page, "bob", next_path="/marketplace/?q=postcode")
    page.locator("#search-count").wait_for()
    assert page.locator(".listing-result").count() == 0
    page.goto("/marketplace/library/")
    row = page.locator(f"#library-table tr[data-listing-id='{listing.listing_id}']")
    assert "suspended by a moderator" in row.inner_text()
    assert row.get_by_role("link", name="Download onnx of Postcode reader").count() == 0
    assert page.js_errors == []
