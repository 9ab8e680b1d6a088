"""Suspending and reinstating accounts and listings from the console: a suspended listing leaves search
and the buyer's downloads until it is reinstated; the affected person is told with the reason."""

from django.contrib.auth import get_user_model

from accounts.models import Notification
from marketplace import selectors
from marketplace.services import listing_purchase
from safety.models import ModerationAction


def told(user) -> list[str]:
    return list(Notification.objects.filter(user=user, kind="moderation_decision").values_list("message", flat=True))


def test_a_suspended_listing_leaves_search_and_the_buyers_downloads_until_reinstated(client, moderator, make_user, listed):
    ada, bob = make_user("ada"), make_user("bob")
    listing = listed(ada, title="Handwritten digits", buy=10)
    listing_purchase(listing=listing, buyer=bob, kind="buy", expected_price=listing.price_buy)
    assert list(selectors.listing_search(q="digits")) == [listing]
    buyer = client.__class__()
    buyer.force_login(bob)
    assert "Download onnx" in buyer.get("/marketplace/library/").content.decode()
    client.force_login(moderator)

    refused = client.post(f"/moderation/listings/{listing.listing_id}/suspend/", {"reason": ""})
    listing.refresh_from_db()
    assert refused.status_code == 302 and listing.status == "active"

    client.post(f"/moderation/listings/{listing.listing_id}/suspend/", {"reason": "a copy of a catalog model"})

    listing.refresh_from_db()
    assert listing.status == "suspended"
    assert list(selectors.listing_search(q="digits")) == []
    [row] = selectors.buyer_library(user=bob)
    assert row["suspended"] and not row["download_allowed"]
    assert "Handwritten digits" not in buyer.get("/marketplace/", {"q": "digits"}).content.decode()
    assert buyer.get("/api/v1/marketplace/models/", {"q": "digits"}).json()["results"] == []
    library = buyer.get("/marketplace/library/").content.decode()
    assert "suspended by a moderator" in library and "Download onnx" not in library
    assert not selectors.listing_download_allowed(listing=listing, user=bob)
    assert "suspended your listing" in told(ada)[0] and "a copy of a catalog model" in told(ada)[0]
    page = client.get("/moderation/listings/").content.decode()
    assert "Handwritten digits" in page and "Reinstate" in page

    client.post(f"/moderation/listings/{listing.listing_id}/reinstate/", {"reason": "the owner proved authorship"})

    listing.refresh_from_db()
    assert listing.status == "active" and list(selectors.listing_search(q="digits")) == [listing]
    assert selectors.buyer_library(user=bob)[0]["download_allowed"]
    assert [a.action for a in ModerationAction.objects.order_by("pk")] == ["suspend_listing", "reinstate_listing"]
    assert any("reinstated your listing" in message for message in told(ada))


def test_a_suspended_account_cannot_sign_in_and_its_listings_are_hidden_until_reinstated(client, moderator, make_user, listed):
    ada = make_user("ada")
    listed(ada, title="Handwritten digits")
    client.force_login(moderator)

    found = client.get("/moderation/users/", {"q": "ada"}).content.decode()
    assert "Suspend ada" in found
    client.post(f"/moderation/users/{ada.pk}/suspend/", {"reason": "sold stolen models"})

    ada.refresh_from_db()
    assert not ada.is_active and list(selectors.listing_search()) == []
    assert not client.__class__().login(username="ada", password="correct horse battery")
    assert "Reinstate ada" in client.get("/moderation/users/").content.decode()  # listed among the suspended

    client.post(f"/moderation/users/{ada.pk}/reinstate/", {"reason": "appeal upheld"})

    ada.refresh_from_db()
    assert ada.is_active and len(selectors.listing_search()) == 1
    assert ["suspend_user", "reinstate_user"] == [a.action for a in ModerationAction.objects.order_by("pk")]
    messages = told(ada)
    assert any("suspended your account" in m and "sold stolen models" in m for m in messages)
    assert any("reinstated your account" in m and "appeal upheld" in m for m in messages)


def test_staff_accounts_are_out_of_reach_and_the_refusal_is_shown(client, moderator, make_user):
    other = make_user("sam", moderator=True)
    client.force_login(moderator)

    response = client.post(f"/moderation/users/{other.pk}/suspend/", {"reason": "testing"}, follow=True)

    assert "Staff accounts are not suspended" in response.content.decode()
    other.refresh_from_db()
    assert other.is_active and not ModerationAction.objects.exists()


def test_an_account_that_does_not_exist_is_a_404(client, moderator):
    client.force_login(moderator)
    missing = get_user_model().objects.order_by("-pk").first().pk + 100

    assert client.post(f"/moderation/users/{missing}/suspend/", {"reason": "x"}).status_code == 404
