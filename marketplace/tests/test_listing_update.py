"""The owner edits a listing's text and prices, withdraws and relists it; a suspension is the moderators'."""

from marketplace.models import Listing


def test_the_owner_changes_prices_and_withdraws_others_cannot(make_user, api_for, listed):
    owner = make_user("ada")
    listing = listed(owner)
    url = f"/api/v1/marketplace/models/{listing.listing_id}/"
    assert api_for(make_user("eve")).patch(url, {"price_buy": "1"}, format="json").status_code == 403
    changed = api_for(owner).patch(url, {"price_buy": "15", "price_rent": None, "status": "withdrawn"}, format="json")
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["price_buy_units"], changed.json()["price_rent"], changed.json()["status"]) == (
        15_000_000, None, "withdrawn")
    assert api_for(make_user("bob")).get(url).status_code == 404
    assert api_for(owner).patch(url, {"price_buy": None}, format="json").status_code == 400  # no price left


def test_an_owner_cannot_lift_a_suspension(make_user, api_for, listed):
    owner = make_user("ada")
    listing = listed(owner)
    Listing.objects.filter(pk=listing.pk).update(status="suspended")
    response = api_for(owner).patch(f"/api/v1/marketplace/models/{listing.listing_id}/", {"status": "active"},
                                    format="json")
    assert response.status_code == 409 and "moderator" in response.json()["error"]["message"]
