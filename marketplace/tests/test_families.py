"""Families and versions: a re-run of the same model (same owner, teachers and task) is its next version."""

from marketplace import selectors, services
from marketplace.catalogue import lineage_key
from marketplace.models import Listing


def test_a_rerun_with_the_same_teacher_is_the_next_version_of_the_family(make_user, listed):
    ada = make_user("ada")
    first = listed(ada, title="digits v1")
    second = listed(ada, title="digits v2", request={"epochs": 3})
    assert second.family_id == first.family_id and (first.version, second.version) == (1, 2)


def test_search_shows_each_family_by_its_newest_public_version(make_user, listed):
    ada, bob = make_user("ada"), make_user("bob")
    first = listed(ada, title="digits v1")
    second = listed(ada, title="digits v2", request={"epochs": 3})
    theirs = listed(bob, title="digits by bob")

    assert set(selectors.listing_search(q="digits")) == {second, theirs}

    services.listing_update(listing=second, user=ada, status=Listing.Status.WITHDRAWN)
    assert set(selectors.listing_search(q="digits")) == {first, theirs}  # the newest still on sale

    services.listing_update(listing=second, user=ada, status=Listing.Status.ACTIVE)
    assert set(selectors.listing_search(q="digits")) == {second, theirs}
    services.listing_suspend(listing=second, moderator=make_user("mo", moderator=True), reason="a copy")
    assert set(selectors.listing_search(q="digits")) == {first, theirs}


def test_another_owner_or_teacher_starts_a_new_family(make_user, listed, monkeypatch):
    ada, bob = make_user("ada"), make_user("bob")
    first = listed(ada)
    theirs = listed(bob)
    assert theirs.family_id != first.family_id and theirs.version == 1
    assert theirs.family.owner == bob


def test_the_lineage_is_the_sorted_teachers_the_task_and_the_domain():
    one = {"teacher_models": [{"model": "catalog:b", "weight": 1}, {"model": "catalog:a", "weight": 2}]}
    other = {"teacher_models": [{"model": "catalog:a", "weight": 1}, {"model": "catalog:b", "weight": 1}]}
    assert lineage_key(request=one, task="text") == lineage_key(request=other, task="text") == (("catalog:a", "catalog:b"), "text", "")
    assert lineage_key(request={"teacher_model": "catalog:a"}, task="text") != lineage_key(request=one, task="text")
    assert lineage_key(request=other, task="image") != lineage_key(request=other, task="text")
    assert lineage_key(request={**other, "domain": "Reviews"}, task="text") == lineage_key(request={**other, "domain": "reviews"}, task="text")
    assert lineage_key(request={**other, "domain": "reviews"}, task="text") != lineage_key(request=other, task="text")


def test_the_catalogue_facts_are_copied_when_listed(make_user, listed):
    listing = listed(make_user("ada"), title="Digits, small", domain="digits")
    assert (listing.task, listing.compression, listing.size_bytes, listing.export_formats) == ("tabular", 8.0, 10, ",onnx,")  # b"onnx-model"
    assert listing.search_document.startswith("Digits, small\nDigits, small for digits\nImage · handwritten digits\ndigits")
