"""The listing page in a real browser with everything it can show: two versions of a model, ratings,
similar and cheaper models, charts against the teacher (drawn by Plotly), the lineage graph and the usage
snippets with their copy buttons; it passes axe and fits a phone (screenshots in var/screenshots/)."""

import pytest

from accounts.services import user_create
from distillation.models import DistillationJob
from ledger.tests.factories import fund
from marketplace import services
from marketplace.models import Listing, ListingFamily, Purchase, Rating
from marketplace.tests.conftest import catalog_home, completed_job, listed  # noqa: F401 - fixtures
from safety.tests.conftest import check  # noqa: F401 - a fixture the report needs

from .browser import PASSWORD, fits_and_passes_axe, log_in, off_the_browser_loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLASSES = [str(n) for n in range(10)]


def _funded(username):
    user = user_create(username=username, password=PASSWORD, email=f"{username}@example.com")
    fund(user, 1000)
    return user


def _richer_report(listing, *, data_sha256):
    """The figures a real digits run reports beyond the fixture's: per class, calibration, classes."""
    job = listing.job
    report = dict(job.report, classes=CLASSES, data_sha256=data_sha256)
    report["student"] = dict(report["student"], per_class_accuracy={c: 0.8 + int(c) / 60 for c in CLASSES},
                             reliability={"confidence": [0.2, 0.5, 0.8, 0.95], "accuracy": [0.25, 0.45, 0.82, 0.97]},
                             architecture={"format": "prsm-zoo/1", "kind": "mlp", "task": "tabular", "classes": CLASSES,
                                           "config": {"input_dim": 64, "hidden": [64], "dropout": 0.1}})
    report["teacher"] = dict(report["teacher"], reliability={"confidence": [0.3, 0.6, 0.9], "accuracy": [0.3, 0.62, 0.93]})
    DistillationJob.objects.filter(pk=job.pk).update(report=report)


def _catalogue(listed):
    ada, bob = _funded("ada"), _funded("bob")
    family = ListingFamily.objects.create(owner=ada)
    versions = []
    for version, (retention, temperature, sha) in enumerate([(0.88, 2.0, "d"), (0.93, 4.0, "e")], start=1):
        listing = listed(ada, title="Handwritten digits, small", buy=12, rent=3, retention=retention,
                         request={"temperature": temperature})
        _richer_report(listing, data_sha256=sha * 64)
        Listing.objects.filter(pk=listing.pk).update(family=family, version=version, category="tabular/digits",
                                                     size_bytes=40_000 + version * 1000, compression=8.0,
                                                     superseded=False)
        versions.append(listing)
    services.family_superseded_refresh(family_id=family.pk)
    for title, retention, buy in (("Digits, tiny and cheap", 0.925, 4), ("Digits, large", 0.97, 40)):
        other = listed(bob, title=title, buy=buy, rent=None, retention=retention)
        Listing.objects.filter(pk=other.pk).update(family=ListingFamily.objects.create(owner=bob), version=1,
                                                   category="tabular/digits", size_bytes=30_000, superseded=False)
    Listing.objects.filter(owner=bob).update(superseded=False)  # each alone in its family now
    latest = Listing.objects.get(pk=versions[1].pk)
    for name, stars, review in (("cy", 5, "Fast and right."), ("di", 4, "Good."), ("ed", 2, "")):
        buyer = _funded(name)
        services.listing_purchase(listing=latest, buyer=buyer, kind=Purchase.Kind.BUY, expected_price=latest.price_buy)
        Rating.objects.create(listing=latest, rater=buyer, stars=stars, review=review)
    return versions


def test_the_listing_shows_charts_lineage_versions_ratings_suggestions_and_snippets(browser_page, live_daphne, listed):
    first, latest = off_the_browser_loop(_catalogue, listed)
    page = browser_page

    log_in(page, "cy", next_path=f"/marketplace/{first.listing_id}/")
    assert "version 2" in page.locator("#newer-version").inner_text()
    page.locator("#newer-version a").click()
    page.wait_for_url(f"**/marketplace/{latest.listing_id}/")

    charts = page.locator("[data-chart]")
    assert charts.count() == 5  # accuracy, size, latency, per class, calibration
    page.wait_for_function("() => [...document.querySelectorAll('[data-chart]')].every(el => el.dataset.state === 'drawn')")
    assert page.locator("#lineage-graph").get_attribute("role") == "img"
    assert page.locator("#lineage-graph [data-kind=version]").count() == 1
    assert page.locator("#version-list > li").count() == 2
    assert "Retention: 88.0% → 93.0%" in page.locator("#version-list").inner_text()
    assert page.locator("#rating-distribution [data-stars='5'] [data-count]").inner_text() == "1"
    page.locator("#suggestions").wait_for()  # loaded after the page
    assert page.locator("#cheaper li").count() == 1 and page.locator("#similar li").count() == 2
    assert page.locator("#usage .code-block").count() == 1  # the fixture's one verified export: ONNX
    assert page.get_by_role("heading", name="Your rating").is_visible()

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("[data-copy=usage-onnx]").click()
    page.locator("[data-copied-for=usage-onnx]", has_text="Copied.").wait_for()
    assert "ort.InferenceSession" in page.evaluate("() => navigator.clipboard.readText()")

    assert fits_and_passes_axe(page, "marketplace-listing-full") == {"axe": [], "wider than 390px": []}
    assert page.js_errors == []
