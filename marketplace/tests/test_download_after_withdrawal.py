"""What was bought stays the buyer's: a purchase for good and a rent until it ends, after the owner
withdraws the listing or is suspended; a moderator's suspension of the listing itself stops it."""

from datetime import timedelta

from django.utils import timezone

from marketplace import services
from marketplace.models import Purchase
from safety.services import user_suspend

from .buying import purchase


def _withdraw(api, listing, status="withdrawn"):
    response = api.patch(f"/api/v1/marketplace/models/{listing.listing_id}/", {"status": status}, format="json")
    assert response.status_code == 200, response.json()


def _download(api, listing):
    return api.get(f"/api/v1/marketplace/models/{listing.listing_id}/download/?format=onnx")


def test_a_buyer_downloads_after_the_owner_withdraws_the_listing(make_user, api_for, listed):
    owner, buyer, stranger = make_user("ada"), make_user("bob"), make_user("eve")
    listing = listed(owner)
    assert purchase(api_for(buyer), listing).status_code == 201
    _withdraw(api_for(owner), listing)

    response = _download(api_for(buyer), listing)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"onnx-model"
    page = api_for(buyer).get(f"/api/v1/marketplace/models/{listing.listing_id}/").json()
    assert (page["status"], page["purchased"]) == ("withdrawn", True)
    assert _download(api_for(stranger), listing).status_code == 404  # still hidden from everyone else
    assert api_for(stranger).get(f"/api/v1/marketplace/models/{listing.listing_id}/").status_code == 404


def test_a_renter_downloads_after_withdrawal_until_the_rent_ends(make_user, api_for, listed):
    owner, renter = make_user("ada"), make_user("bob")
    listing = listed(owner)
    assert purchase(api_for(renter), listing, "rent").status_code == 201
    _withdraw(api_for(owner), listing)
    assert _download(api_for(renter), listing).status_code == 200

    Purchase.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _download(api_for(renter), listing).status_code == 404  # the rent ended: a withdrawn listing is hidden again


def test_a_buyer_keeps_the_model_when_its_owner_is_suspended(make_user, api_for, listed):
    owner, buyer = make_user("ada"), make_user("bob")
    listing = listed(owner)
    assert purchase(api_for(buyer), listing).status_code == 201
    user_suspend(user=owner, moderator=make_user("mo", moderator=True), reason="throwaway accounts")
    assert _download(api_for(buyer), listing).status_code == 200


def test_a_moderators_suspension_of_the_listing_stops_buyers_downloads_until_reinstated(make_user, api_for, listed):
    owner, buyer, moderator = make_user("ada"), make_user("bob"), make_user("mo", moderator=True)
    listing = listed(owner)
    assert purchase(api_for(buyer), listing).status_code == 201
    services.listing_suspend(listing=listing, moderator=moderator, reason="a copy of a catalog model")

    refused = _download(api_for(buyer), listing)
    assert refused.status_code == 403 and "moderator" in refused.json()["error"]["message"]
    assert _download(api_for(owner), listing).status_code == 200  # the owner keeps their own model

    services.listing_suspend(listing=listing, moderator=moderator, reason="the owner proved it", suspend=False)
    assert _download(api_for(buyer), listing).status_code == 200
