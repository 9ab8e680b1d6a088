"""The listing page's further parts (marketplace.listing_extras and the page): charts against the teacher,
the lineage graph, the family's versions and what changed, the rating distribution and the rating form each
person sees, similar and cheaper models, and the usage snippets."""

import re

import pytest

from distillation.models import Artifact, DistillationJob, Teacher
from marketplace import listing_extras, services
from marketplace.models import Listing, ListingFamily, Purchase, Rating

pytestmark = pytest.mark.django_db


def page_of(listing) -> str:
    return f"/marketplace/{listing.listing_id}/"


def flat(response) -> str:
    return " ".join(response.content.decode().split())


def in_family(listing, family, version, **fields):
    """Move a listing into ``family`` at ``version``, both families' superseded marks kept as the services keep them."""
    was = listing.family_id
    Listing.objects.filter(pk=listing.pk).update(family=family, version=version, superseded=False, **fields)
    for family_id in {was, family.pk}:
        services.family_superseded_refresh(family_id=family_id)
    listing.refresh_from_db()
    return listing


def set_job(listing, *, request=None, report=None):
    job = listing.job
    DistillationJob.objects.filter(pk=job.pk).update(request={**job.request, **(request or {})},
                                                     report={**job.report, **(report or {})})
    listing.deployment.job.refresh_from_db()


def buy(listing, user, kind=Purchase.Kind.BUY):
    from marketplace import services

    price = listing.price_buy if kind == Purchase.Kind.BUY else listing.price_rent
    return services.listing_purchase(listing=listing, buyer=user, kind=kind, expected_price=price,
                                     expected_period_days=listing.rent_period_days if kind == Purchase.Kind.RENT else None)


@pytest.fixture
def family_of_three(make_user, listed):
    """Three versions by ada: v1 (retention 0.85, temperature 2), v2 (0.90, temperature 4, other data),
    v3 (0.92, target size medium)."""
    owner = make_user("ada")
    family = ListingFamily.objects.create(owner=owner)
    v1 = in_family(listed(owner, title="digits v1", retention=0.85, request={"temperature": 2.0}), family, 1)
    v2 = in_family(listed(owner, title="digits v2", retention=0.90, request={"temperature": 4.0}), family, 2)
    set_job(v2, report={"data_sha256": "e" * 64})
    v3 = in_family(listed(owner, title="digits v3", retention=0.92, request={"temperature": 4.0, "target_size": "medium"}),
                   family, 3)
    set_job(v3, report={"data_sha256": "e" * 64})
    return v1, v2, v3


# --- Versions


def test_an_earlier_version_shows_the_notice_and_every_version_newest_first(client, family_of_three):
    v1, v2, v3 = family_of_three

    body = flat(client.get(page_of(v1)))

    notice = body.split('id="newer-version"', 1)[1].split("</p>", 1)[0]
    assert f'href="/marketplace/{v3.listing_id}/"' in notice and "version 3" in notice
    versions = body.split('id="version-list"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r'data-version="(\d)"', versions) == ["3", "2", "1"]
    latest = versions.split('data-version="3"', 1)[1].split("</p>", 1)[0]
    assert "latest" in latest and 'data-version="1"' in versions and versions.count(">latest<") == 1
    assert f'href="/marketplace/{v1.listing_id}/" aria-current="page"' in versions


def test_each_version_says_what_changed_figures_data_and_settings(client, family_of_three):
    v1, v2, v3 = family_of_three

    versions = flat(client.get(page_of(v3))).split('id="version-list"', 1)[1]
    second = versions.split('data-version="2"', 1)[1].split('data-version="1"', 1)[0]
    third = versions.split('data-version="3"', 1)[1].split('data-version="2"', 1)[0]

    assert "Retention: 85.0% → <strong>90.0%</strong>" in second
    assert "sha256 <code>dddddddddddd…</code>) → <strong>" in second and "eeeeeeeeeeee…" in second
    assert "Setting <code>temperature</code>: 2.0 → <strong>4.0</strong>" in second
    assert "Setting <code>target_size</code>: small → <strong>medium</strong>" in third
    assert "Data:" not in third and "temperature" not in third
    assert 'id="newer-version"' not in flat(client.get(page_of(v3)))


def test_a_withdrawn_newer_version_is_not_offered_to_visitors(client, family_of_three):
    v1, v2, v3 = family_of_three
    Listing.objects.filter(pk=v3.pk).update(status=Listing.Status.WITHDRAWN)

    versions = listing_extras.listing_versions(listing=v1)

    assert [v["listing"].version for v in versions["versions"]] == [2, 1]
    assert versions["latest"].pk == v2.pk and versions["newer"].pk == v2.pk
    assert f"/marketplace/{v3.listing_id}/" not in flat(client.get(page_of(v1)))


def test_a_listing_without_a_family_shows_no_versions(client, make_user, listed):
    listing = listed(make_user("ada"))
    Listing.objects.filter(pk=listing.pk).update(family=None)
    body = flat(client.get(page_of(listing)))
    assert 'id="versions"' not in body and 'id="newer-version"' not in body


# --- Lineage


def test_the_lineage_graph_names_teachers_with_owners_the_data_the_job_and_the_earlier_version(client, family_of_three):
    v1, v2, v3 = family_of_three

    body = flat(client.get(page_of(v2)))

    svg = body.split('id="lineage-graph"', 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in svg and '<title id="lineage-graph-title">' in svg and '<desc id="lineage-graph-desc">' in svg
    assert sorted(re.findall(r'data-kind="(\w+)"', svg)) == ["data", "job", "listing", "teacher", "version"]
    assert "catalog:digits-mlp" in svg and "the platform&#x27;s catalog" in svg and "version 1" in svg
    facts = body.split('id="lineage-facts"', 1)[1].split("</ul>", 1)[0]
    assert "builtin:digits" in facts and "e" * 64 in facts and str(v2.job.job_id) in facts
    assert f'href="/marketplace/{v1.listing_id}/">version 1</a>' in facts


def test_an_uploaded_teacher_is_shown_with_its_owners_name(make_user, listed):
    owner = make_user("ada")
    listing = listed(owner)
    teacher = Teacher.objects.create(owner=owner, name="my-bert", sha256="0" * 64, size_bytes=10, path="t",
                                     kind=Teacher.Kind.ONNX, status=Teacher.Status.READY)
    set_job(listing, request={"teacher_model": str(teacher.public_id)})

    assert listing_extras.listing_teachers(listing=listing) == [
        {"ref": str(teacher.public_id), "name": "my-bert", "owner": "ada"}]


# --- Charts


def test_the_charts_are_the_reports_figures_and_drawn_from_the_listings_own_urls(client, make_user, listed):
    listing = listed(make_user("ada"), retention=0.9)

    body = flat(client.get(page_of(listing)))
    urls = re.findall(r'data-series-url="([^"]+)"', body)
    charts = {url.rsplit("/", 1)[1]: client.get(url).json() for url in urls}

    assert set(charts) == {"accuracy.json", "size.json", "latency.json"}
    assert charts["accuracy.json"]["series"][0]["x"] == ["teacher", "student"]
    assert charts["accuracy.json"]["series"][0]["y"] == [0.95, pytest.approx(0.95 * 0.9)]
    assert charts["size.json"]["series"][0]["y"] == [8000, 1000]
    assert "plotly" in body and "/static/js/charts.js" in body


def test_a_chart_is_not_found_where_the_listing_is_not_visible_or_has_no_such_figures(client, make_user, listed):
    listing = listed(make_user("ada"))
    assert client.get(f"{page_of(listing)}charts/per_class.json").status_code == 404
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.SUSPENDED)
    assert client.get(f"{page_of(listing)}charts/accuracy.json").status_code == 404


# --- Ratings


def test_the_distribution_counts_each_star_beside_the_average(client, make_user, listed):
    listing = listed(make_user("ada"), buy=1)
    for name, stars in (("bob", 5), ("cy", 5), ("di", 4), ("ed", 1)):
        buyer = make_user(name)
        buy(listing, buyer)
        Rating.objects.create(listing=listing, rater=buyer, stars=stars)

    body = flat(client.get(page_of(listing)))

    table = body.split('id="rating-distribution"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'data-stars="(\d)">.*?value="(\d+)".*?data-count>(\d+)<', table)
    assert rows == [("5", "50", "2"), ("4", "25", "1"), ("3", "0", "0"), ("2", "0", "0"), ("1", "25", "1")]
    assert "★ 3.8 of 5, from 4 ratings." in body
    assert body.index('id="rating-distribution"') < body.index('class="reviews"')


def test_each_person_sees_the_rating_form_or_the_reason_they_have_none(client, make_user, listed):
    owner, buyer, renter, other = make_user("ada"), make_user("bob"), make_user("cy"), make_user("di")
    listing = listed(owner, buy=1, rent=1)
    buy(listing, buyer)
    buy(listing, renter, Purchase.Kind.RENT)

    def seen(user):
        if user is None:
            client.logout()
        else:
            client.force_login(user)
        return flat(client.get(page_of(listing)))

    assert "Log in</a> to rate it" in seen(None) and 'id="rate-form"' not in seen(None)
    assert "You made this model, so you cannot rate it" in seen(owner) and 'id="rate-form"' not in seen(owner)
    assert "Only people who bought or rented" in seen(other) and 'id="rate-form"' not in seen(other)
    assert 'id="rate-form"' in seen(buyer) and "Publish the rating" in seen(buyer)
    assert 'id="rate-form"' in seen(renter)


def test_an_author_sees_their_rating_in_the_form_to_change_it(client, make_user, listed):
    listing = listed(make_user("ada"), buy=1)
    buyer = make_user("bob")
    buy(listing, buyer)
    Rating.objects.create(listing=listing, rater=buyer, stars=2, review="Slow on my laptop.")
    client.force_login(buyer)

    form = flat(client.get(page_of(listing))).split('id="rate-form"', 1)[1].split("</form>", 1)[0]

    assert "You gave it 2 of 5" in form and "Update the rating" in form
    assert re.search(r'value="2"[^>]*checked', form) and "Slow on my laptop.</textarea>" in form


def test_an_author_changes_their_rating(client, make_user, listed):
    listing = listed(make_user("ada"), buy=1)
    buyer = make_user("bob")
    buy(listing, buyer)
    client.force_login(buyer)
    client.post(f"{page_of(listing)}rate/", {"stars": "2", "review": "Slow."})

    response = client.post(f"{page_of(listing)}rate/", {"stars": "4", "review": "Faster after all."}, follow=True)

    assert response.status_code == 200, flat(response)
    rating = Rating.objects.get(listing=listing, rater=buyer)
    assert (rating.stars, rating.review) == (4, "Faster after all.")
    assert "Your rating is updated." in flat(response)


# --- Similar and cheaper


@pytest.fixture
def catalogue(make_user, listed):
    """A listing in tabular/digits and others around it, each in its own family."""
    owner, other = make_user("ada"), make_user("bob")

    def listing(user, title, *, category="tabular/digits", retention=0.9, latency=2.0, size=1000, buy=10, version=1,
                family=None, status=Listing.Status.ACTIVE):
        made = listed(user, title=title, buy=buy, retention=retention, latency=latency)
        family = family or ListingFamily.objects.create(owner=user)
        return in_family(made, family, version, category=category, retention=retention, latency_ms=latency,
                         size_bytes=size, status=status)

    return owner, other, listing


def test_similar_models_are_the_closest_of_its_category_from_other_families(catalogue):
    owner, other, listing = catalogue
    this = listing(owner, "this", retention=0.9, latency=2.0, size=1000)
    own_v2 = listing(owner, "this v2", family=this.family, version=2)
    close = listing(other, "close", retention=0.89, latency=2.1, size=1100)
    far = listing(other, "far", retention=0.6, latency=9.0, size=9000)
    middling = listing(other, "middling", retention=0.85, latency=3.0, size=1500)
    listing(other, "other category", category="image/clothing")
    listing(other, "withdrawn", status=Listing.Status.WITHDRAWN)
    old = listing(other, "old version", retention=0.9, latency=2.0, size=1000)
    listing(other, "new version", family=old.family, version=2, retention=0.7, latency=6.0, size=6000)

    similar = listing_extras.listing_similar(this)

    assert [s.title for s in similar] == ["close", "middling", "new version", "far"]
    assert own_v2 not in similar and [s.title for s in listing_extras.listing_similar(this, limit=2)] == ["close", "middling"]


def test_cheaper_ones_keep_retention_within_two_points_and_cost_less(catalogue):
    owner, other, listing = catalogue
    this = listing(owner, "this", retention=0.90, buy=10)
    listing(other, "cheap and as good", retention=0.885, buy=4)
    listing(other, "cheapest and better", retention=0.95, buy=2)
    listing(other, "cheap but worse", retention=0.87, buy=1)
    listing(other, "as good but dearer", retention=0.95, buy=12)
    listing(other, "same price", retention=0.95, buy=10)
    listing(other, "another category", category="text/sentiment", retention=0.95, buy=1)

    assert [c.title for c in listing_extras.listing_cheaper(this)] == ["cheapest and better", "cheap and as good"]


def test_the_page_shows_the_suggestions_with_their_figures_and_links(client, catalogue):
    owner, other, listing = catalogue
    this = listing(owner, "this", retention=0.90, buy=10)
    cheaper = listing(other, "a bargain", retention=0.91, buy=3)

    page = flat(client.get(page_of(this)))
    body = flat(client.get(f"{page_of(this)}suggestions/"))  # loaded by the page once shown (htmx)

    assert f'hx-get="{page_of(this)}suggestions/"' in page
    for part in ("cheaper", "similar"):
        block = body.split(f'id="{part}"', 1)[1].split("</ul>", 1)[0]
        assert f'href="/marketplace/{cheaper.listing_id}/">a bargain</a>' in block and "retention 91.0%" in block


# --- Usage


def test_the_page_shows_a_snippet_for_each_verified_export_with_a_copy_button(client, make_user, listed):
    listing = listed(make_user("ada"))
    Artifact.objects.create(job=listing.job, format="pth", path="x/model.pth", sha256="1" * 64, size_bytes=5, verified=False)

    body = flat(client.get(page_of(listing)))

    usage = body.split('id="usage"', 1)[1].split("</section>", 1)[0]
    assert 'data-copy="usage-onnx"' in usage and "ort.InferenceSession(&quot;model.onnx&quot;" in usage
    assert "usage-pth" not in usage and "/static/js/copy_buttons.js" in body
