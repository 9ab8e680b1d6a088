"""Reported listings queue for the moderators; suspending hides them, every decision goes in the audit log."""

import pytest

from marketplace import services
from marketplace.models import Listing, ListingReport
from safety.models import ModerationAction
from safety.services import NotModerator, SafetyError

QUEUE = "/admin/marketplace/reportedlistingqueueitem/"


def report(api, listing, reason="copies someone else's model"):
    return api.post(f"/api/v1/marketplace/models/{listing.listing_id}/report/", {"reason": reason}, format="json")


@pytest.fixture
def reported(make_user, api_for, listed):
    listing = listed(make_user("ada"), title="Suspicious digits")
    assert report(api_for(make_user("eve")), listing).status_code == 201
    return listing


def test_one_open_report_per_user_and_listing_with_a_reason(make_user, api_for, listed):
    listing, eve = listed(make_user("ada")), make_user("eve")
    assert report(api_for(eve), listing, reason="").status_code == 400
    assert report(api_for(eve), listing).status_code == 201
    assert report(api_for(eve), listing).status_code == 409
    assert report(api_for(make_user("bob")), listing).status_code == 201
    assert ListingReport.objects.filter(status="open").count() == 2


def test_report_queue_suspend_hides_the_listing_and_logs_the_action(client, make_user, api_for, reported):
    moderator = make_user("mo", moderator=True)
    client.force_login(moderator)
    page = client.get(QUEUE)
    assert page.status_code == 200 and "Suspicious digits" in page.content.decode()

    item = ListingReport.objects.get()
    form = client.post(QUEUE, {"action": "suspend_listings", "_selected_action": [item.pk]})
    assert form.status_code == 200 and "reason" in form.content.decode()
    done = client.post(QUEUE, {"action": "suspend_listings", "_selected_action": [item.pk], "apply": "1",
                               "reason": "a copy of a catalog model"})
    assert done.status_code == 302

    reported.refresh_from_db()
    item.refresh_from_db()
    assert reported.status == "suspended" and item.status == "actioned" and item.decided_by == moderator
    action = ModerationAction.objects.get()
    assert (action.action, action.listing, action.moderator, action.target_user, action.reason) == (
        "suspend_listing", reported, moderator, reported.owner, "a copy of a catalog model")
    assert "Suspicious digits" not in client.get(QUEUE).content.decode()

    url = f"/api/v1/marketplace/models/{reported.listing_id}/"
    assert api_for(make_user("bob")).get("/api/v1/marketplace/models/").json()["results"] == []
    assert api_for(make_user("cy")).get(url).status_code == 404
    owner_view = api_for(reported.owner).get(url)
    assert owner_view.status_code == 200 and owner_view.json()["status"] == "suspended"
    bought = api_for(make_user("dan")).post(f"{url}purchase/", {"kind": "buy", "expected_price": "10"}, format="json",
                                              HTTP_IDEMPOTENCY_KEY="k")
    assert bought.status_code == 409 and "not on sale" in bought.json()["error"]["message"]


def test_dismiss_and_reinstate_are_logged_with_their_reasons(make_user, reported):
    moderator = make_user("mo", moderator=True)
    services.listing_report_dismiss(report=ListingReport.objects.get(), moderator=moderator, reason="no evidence")
    services.listing_suspend(listing=reported, moderator=moderator, reason="second look: a copy")
    services.listing_suspend(listing=reported, moderator=moderator, reason="the owner proved it", suspend=False)
    reported.refresh_from_db()
    assert reported.status == "active" and ListingReport.objects.get().status == "dismissed"
    assert list(ModerationAction.objects.order_by("pk").values_list("action", "reason")) == [
        ("dismiss_report", "no evidence"), ("suspend_listing", "second look: a copy"),
        ("reinstate_listing", "the owner proved it")]


def test_only_moderators_decide_and_always_with_a_reason(make_user, reported):
    staff, moderator = make_user("sam", staff=True), make_user("mo", moderator=True)
    with pytest.raises(NotModerator):
        services.listing_suspend(listing=reported, moderator=staff, reason="spam")
    with pytest.raises(SafetyError, match="reason"):
        services.listing_suspend(listing=reported, moderator=moderator, reason=" ")
    assert Listing.objects.get().status == "active" and not ModerationAction.objects.exists()


def test_suspending_the_owner_from_the_queue_hides_all_their_listings(client, make_user, listed, reported):
    other = listed(reported.owner, title="Another of ada's")
    client.force_login(make_user("mo", moderator=True))
    client.post(QUEUE, {"action": "suspend_owners", "_selected_action": [ListingReport.objects.get().pk], "apply": "1",
                        "reason": "fraud"})
    assert ModerationAction.objects.get().action == "suspend_user"
    assert client.get(f"/api/v1/marketplace/models/{other.listing_id}/").status_code == 404
    assert client.get("/api/v1/marketplace/models/").json()["results"] == []


def test_non_staff_and_staff_who_are_not_moderators_are_refused(client, make_user, reported):
    client.force_login(make_user("bob"))
    assert client.get(QUEUE).status_code == 302  # to the admin login
    client.force_login(make_user("sam", staff=True))
    assert client.get(QUEUE).status_code == 403
    assert client.get("/admin/marketplace/listing/").status_code == 403
