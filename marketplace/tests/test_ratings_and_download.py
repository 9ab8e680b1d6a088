"""Buyers rate once; owners and buyers (a rent not expired) download."""

from datetime import timedelta

from django.utils import timezone

from marketplace.models import Purchase

from .buying import purchase as buy


def purchase(api, listing, kind="buy"):
    response = buy(api, listing, kind, key=f"{kind}-1")
    assert response.status_code == 201, response.json()


def rate(api, listing, stars=4):
    return api.post(f"/api/v1/marketplace/models/{listing.listing_id}/ratings/", {"stars": stars, "review": "good"},
                    format="json")


def test_only_buyers_rate_and_only_once(make_user, api_for, listed):
    owner, buyer, stranger = make_user("ada"), make_user("bob"), make_user("eve")
    listing = listed(owner)
    assert rate(api_for(stranger), listing).status_code == 403
    assert rate(api_for(owner), listing).status_code == 403
    purchase(api_for(buyer), listing)
    assert rate(api_for(buyer), listing, stars=6).status_code == 400
    assert rate(api_for(buyer), listing).status_code == 201
    assert rate(api_for(buyer), listing, stars=1).status_code == 409
    assert api_for(stranger).get(f"/api/v1/marketplace/models/{listing.listing_id}/").json()["rating"] == {
        "average": 4.0, "count": 1}


def test_owners_and_buyers_download_an_attachment_others_are_refused(make_user, api_for, listed, client):
    owner, buyer, stranger = make_user("ada"), make_user("bob"), make_user("eve")
    listing = listed(owner)
    url = f"/api/v1/marketplace/models/{listing.listing_id}/download/?format=onnx"
    assert client.get(url).status_code == 401
    assert api_for(stranger).get(url).status_code == 403
    purchase(api_for(buyer), listing)
    for user in (owner, buyer):
        response = api_for(user).get(url)
        assert response.status_code == 200 and b"".join(response.streaming_content) == b"onnx-model"
        assert response["X-Content-Type-Options"] == "nosniff" and "attachment" in response["Content-Disposition"]
    assert api_for(owner).get(url.replace("onnx", "tflite")).status_code == 404


def test_an_expired_rent_no_longer_downloads(make_user, api_for, listed):
    listing = listed(make_user("ada"))
    renter = make_user("bob")
    purchase(api_for(renter), listing, kind="rent")
    url = f"/api/v1/marketplace/models/{listing.listing_id}/download/"
    assert api_for(renter).get(url).status_code == 200
    Purchase.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_for(renter).get(url).status_code == 403


def test_the_author_changes_their_rating_and_no_one_else_can(make_user, api_for, listed):
    owner, buyer, other = make_user("ada"), make_user("bob"), make_user("cy")
    listing = listed(owner)
    url = f"/api/v1/marketplace/models/{listing.listing_id}/ratings/"
    purchase(api_for(buyer), listing)
    purchase(api_for(other), listing)
    assert api_for(buyer).patch(url, {"stars": 2, "review": "slow"}, format="json").status_code == 404  # not rated yet
    assert rate(api_for(buyer), listing, stars=2).status_code == 201

    changed = api_for(buyer).patch(url, {"stars": 5, "review": "fast after all"}, format="json")

    assert changed.status_code == 200 and changed.json()["stars"] == 5
    assert api_for(owner).patch(url, {"stars": 5}, format="json").status_code == 403
    assert api_for(other).patch(url, {"stars": 1}, format="json").status_code == 404  # their own, which is none
    assert api_for(other).get(f"/api/v1/marketplace/models/{listing.listing_id}/").json()["rating"] == {
        "average": 5.0, "count": 1}
