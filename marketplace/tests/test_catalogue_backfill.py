"""Migration 0004's backfill gives listings made before the catalogue facts what listing_create gives now."""

import importlib

from django.apps import apps

from marketplace.models import Listing, ListingFamily

backfill = importlib.import_module("marketplace.migrations.0004_catalogue_backfill_and_search").backfill


def _as_before_the_catalogue(listing):
    Listing.objects.filter(pk=listing.pk).update(
        family=None, version=1, category="", task="", size_bytes=None, compression=None, export_formats="",
        recommended_price=None, search_document="")


def test_the_backfill_fills_the_facts_families_and_versions_of_old_listings(make_user, listed):
    ada, bob = make_user("ada"), make_user("bob")
    first, second, theirs = listed(ada, title="digits v1"), listed(ada, title="digits v2"), listed(bob, title="bob's")
    expected = {listing.pk: (listing.task, listing.category, listing.size_bytes, listing.compression,
                             listing.export_formats, listing.search_document) for listing in (first, second, theirs)}
    for listing in (first, second, theirs):
        _as_before_the_catalogue(listing)
    ListingFamily.objects.all().delete()

    backfill(apps, None)

    rows = {listing.pk: listing for listing in Listing.objects.all()}
    for pk, facts in expected.items():
        row = rows[pk]
        assert (row.task, row.category, row.size_bytes, row.compression, row.export_formats,
                row.search_document) == facts
        assert row.recommended_price and row.recommended_price > 0
    assert rows[first.pk].family_id == rows[second.pk].family_id != rows[theirs.pk].family_id
    assert (rows[first.pk].version, rows[second.pk].version, rows[theirs.pk].version) == (1, 2, 1)
    assert ListingFamily.objects.get(pk=rows[theirs.pk].family_id).owner == bob
