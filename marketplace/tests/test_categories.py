"""Categories: assigned from the job's task, domain and data; changed by the owner within the taxonomy."""

import pytest

from marketplace import services
from marketplace.categories import CATEGORIES, category_assign, category_label, category_refusal


@pytest.mark.parametrize(("task", "domain", "data", "expected"), [
    ("text", "sentiment", "builtin:movie-reviews", "text/sentiment"),
    ("text", "", "builtin:review-snippets", "text/sentiment"),
    ("text", "news topics", "", "text/topic"),
    ("text", "poems", "my-poems.csv", "text/other"),
    ("image", "", "builtin:fashion-mnist", "image/clothing"),  # fashion before the "mnist" of digits
    ("image", "mnist", "", "image/digits"),
    ("image", "medical", "", "image/medical"),
    ("tabular", "digits", "builtin:digits", "image/digits"),  # 8x8 pixels as 64 features
    ("tabular", "", "builtin:breast-cancer", "tabular/medical"),
    ("tabular", "medical", "", "tabular/medical"),  # the task decides which "medical"
    ("tabular", "credit scoring", "loans_2024.csv", "tabular/finance"),
    ("tabular", "", "builtin:wine", "tabular/chemistry"),
    ("tabular", "weather", "", "tabular/other"),
])
def test_a_model_is_put_in_the_category_of_its_task_domain_and_data(task, domain, data, expected):
    assert category_assign(task=task, domain=domain, data=data) == expected


def test_every_task_has_an_other_category_and_every_category_a_label():
    slugs = {category.slug for category in CATEGORIES}
    assert {"text/other", "image/other", "tabular/other"} <= slugs
    assert all(category.label and category.slug.count("/") == 1 for category in CATEGORIES)
    assert category_label("image/clothing") == "Image · clothing"


def test_a_category_outside_the_taxonomy_or_the_task_is_refused():
    assert "not a category" in category_refusal(slug="text/poetry", task="text")
    assert "cannot be in Image · clothing" in category_refusal(slug="image/clothing", task="text")
    assert category_refusal(slug="image/digits", task="tabular") is None


def test_listing_a_digits_job_puts_it_in_digits(make_user, listed):
    listing = listed(make_user("ada"), domain="digits")
    assert (listing.category, listing.task) == ("image/digits", "tabular")


def test_the_owner_moves_a_listing_to_another_category_of_its_task(make_user, listed):
    listing = listed(make_user("ada"), domain="digits")
    listing = services.listing_update(listing=listing, user=listing.owner, category="tabular/other")
    assert listing.category == "tabular/other" and "Tabular · other" in listing.search_document


def test_a_category_of_another_task_or_none_at_all_is_refused_with_its_field(make_user, listed):
    listing = listed(make_user("ada"))
    for slug in ("text/sentiment", "tabular/poetry"):
        with pytest.raises(services.MarketplaceError) as refused:
            services.listing_update(listing=listing, user=listing.owner, category=slug)
        assert refused.value.field == "category" and refused.value.status_code == 400
    listing.refresh_from_db()
    assert listing.category == "image/digits"


def test_someone_else_cannot_change_the_category(make_user, listed):
    listing = listed(make_user("ada"))
    with pytest.raises(services.NotAllowed):
        services.listing_update(listing=listing, user=make_user("eve"), category="tabular/other")


def test_the_api_changes_the_category_and_answers_400_for_a_wrong_one(make_user, api_for, listed):
    listing = listed(make_user("ada"))
    api = api_for(listing.owner)
    url = f"/api/v1/marketplace/models/{listing.listing_id}/"
    changed = api.patch(url, {"category": "tabular/medical"}, format="json")
    assert changed.status_code == 200 and changed.json()["category"] == "tabular/medical"
    assert changed.json()["category_label"] == "Tabular · medical"
    wrong = api.patch(url, {"category": "image/clothing"}, format="json")
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "category"


def test_the_owner_may_choose_the_category_when_listing_through_the_api(make_user, api_for, completed_job):
    owner = make_user("ada")
    job = completed_job(owner)
    api = api_for(owner)
    model_id = api.post(f"/api/v1/distillations/{job.job_id}/deploy/").json()["model_id"]
    wrong = api.post("/api/v1/marketplace/models/", {"model_id": model_id, "price_buy": "1", "category": "text/spam"},
                     format="json")
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "category"
    listed = api.post("/api/v1/marketplace/models/", {"model_id": model_id, "price_buy": "1",
                                                      "category": "tabular/other"}, format="json")
    assert listed.status_code == 201 and listed.json()["category"] == "tabular/other"
