"""The marketplace's search in a real browser: a buyer finds a model by a misspelt word of its model card,
narrows with two filters (htmx, the URL keeps them), sorts, and the page passes axe and fits a phone,
with screenshots in var/screenshots/."""

import pytest

from marketplace.tests.conftest import catalog_home, completed_job, make_unfunded_user, make_user  # noqa: F401 - fixtures
from marketplace.tests.test_search_ranking import CATALOGUE, _list
from safety.tests.conftest import check  # noqa: F401 - a fixture the report needs

from .browser import fits_and_passes_axe, log_in, off_the_browser_loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _catalogue(make_user, completed_job):  # noqa: F811 - the fixtures' factories
    sellers = [make_user(f"seller{n}") for n in range(4)]
    for n, row in enumerate(CATALOGUE):
        _list(sellers[n % 4], completed_job, row, retention=0.80 + n * 0.02, latency=1.0 + n)
    make_user("bob")


def titles(page) -> list[str]:
    return page.locator(".listing-result .listing-title a").all_inner_texts()


def test_a_buyer_finds_a_model_by_a_misspelt_word_and_narrows_with_two_filters(
        browser_page, make_user, completed_job):  # noqa: F811
    off_the_browser_loop(_catalogue, make_user, completed_job)
    page = browser_page
    log_in(page, "bob", next_path="/marketplace/")

    page.get_by_label("Search").fill("photoes")  # the fashion model's card: "grey photos of clothes"
    page.wait_for_url("**/marketplace/?q=photoes*")
    page.locator("#search-count", has_text="1 model found").wait_for()
    assert titles(page) == ["Fashion item classifier"]
    result = page.locator(".listing-result").first
    assert "Image · clothing" in result.inner_text() and "Retention" in result.inner_text()

    page.get_by_label("Search").fill("sentiment")
    page.locator("#search-count", has_text="3 models found").wait_for()
    assert titles(page) == ["Movie review sentiment", "Tweet mood tagger", "News topic sorter"]
    page.get_by_label("Category").select_option("text/sentiment")
    page.locator("#search-count", has_text="2 models found").wait_for()
    page.get_by_label("Price at most, FTNS").fill("10")
    page.locator("#search-count", has_text="1 model found").wait_for()
    assert titles(page) == ["Tweet mood tagger"]
    page.wait_for_url("**/marketplace/?*category=text%2Fsentiment*max_price=10*")

    page.get_by_text("More filters").click()
    page.get_by_label("Export format").select_option("pth")  # the tweet model has only onnx
    page.locator("#search-count", has_text="0 models found").wait_for()
    page.get_by_label("Export format").select_option("onnx")
    page.locator("#search-count", has_text="1 model found").wait_for()

    page.reload()  # the URL holds the search: shared, it shows the same, the used filters open
    assert titles(page) == ["Tweet mood tagger"] and page.get_by_label("Category").input_value() == "text/sentiment"
    assert page.get_by_label("Export format").input_value() == "onnx" and page.get_by_label("Export format").is_visible()
    assert fits_and_passes_axe(page, "marketplace-search-filters") == {"axe": [], "wider than 390px": []}

    # one change at a time, each answered: a change while a search is in flight replaces it (hx-sync)
    page.get_by_label("Category").select_option("")
    page.locator("#search-count", has_text="1 model found").wait_for()
    page.get_by_label("Price at most, FTNS").fill("")
    page.locator("#search-count", has_text="3 models found").wait_for()  # all three have an onnx export
    page.get_by_label("Export format").select_option("")
    page.wait_for_url(lambda url: "export_format=onnx" not in url)
    page.get_by_label("Order by").select_option("price")
    page.wait_for_url("**ordering=price*")
    assert titles(page) == ["Tweet mood tagger", "News topic sorter", "Movie review sentiment"]
    assert page.js_errors == []
