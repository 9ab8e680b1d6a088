"""A listing PATCH that names a field the route does not know, that would leave no price, or that
writes a price in another form than ASCII decimals, is a 400 in words naming the field."""

import pytest

from marketplace.models import Listing


@pytest.fixture
def patch(make_user, api_for, listed):
    owner = make_user("ada")
    listing = listed(owner, buy=10, rent=2)

    def send(body):
        return api_for(owner).patch(f"/api/v1/marketplace/models/{listing.listing_id}/", body, format="json")

    send.listing = listing
    return send


@pytest.mark.parametrize("body, field", [
    ({"price_buy": None, "price_rent": None}, "price_rent"),
    ({"price_buy": None, "price_rent": None, "title": "x"}, "price_rent"),
])
def test_a_patch_that_leaves_no_price_names_the_field_not_the_constraint(patch, body, field):
    response = patch(body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", field)
    assert "price" in error["message"] and "listing_has_a_price" not in error["message"]
    assert Listing.objects.get().price_buy == 10_000_000


def test_removing_the_last_price_names_that_price(patch):
    assert patch({"price_rent": None}).status_code == 200
    response = patch({"price_buy": None})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "price_buy")


@pytest.mark.parametrize("field", ["owner", "price", "listing_id", "max_price"])
def test_a_patch_with_an_unknown_field_is_a_400_naming_it(patch, field):
    response = patch({"title": "renamed", field: "1"})
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == ("unknown_field", field)
    assert Listing.objects.get().title == "digits model"


@pytest.mark.parametrize("amount", ["٣", "１", "1_000", "1e3"])
def test_a_price_in_another_form_is_a_400(patch, amount):
    response = patch({"price_buy": amount})
    assert (response.status_code, response.json()["error"]["field"]) == (400, "price_buy")
    assert Listing.objects.get().price_buy == 10_000_000
