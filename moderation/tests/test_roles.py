"""Every console and operations route for five roles: a visitor is sent to log in; another user, a
buyer and the owner of what is decided get 403 and change nothing; a moderator gets the page. The
operations page is for staff, and every moderator is staff (accounts.services.moderator_add), so
moderators see it too; a staff member who is not a moderator sees operations but not the console."""

import pytest

from marketplace.models import Listing
from marketplace.services import listing_purchase
from safety.models import FlaggedUpload, ModerationAction, SafetyReport

CONSOLE_PAGES = ["/moderation/", "/moderation/tripped-jobs/", "/moderation/flagged-uploads/", "/moderation/reported-listings/",
                 "/moderation/audit/", "/moderation/audit.csv", "/moderation/users/", "/moderation/listings/"]
OPERATIONS_PAGES = ["/moderation/operations/", "/moderation/operations/?window=week",
                    "/moderation/operations/jobs.json", "/moderation/operations/success.json?window=week",
                    "/moderation/operations/wait.json", "/moderation/operations/concurrency.json"]
ACTIONS = ["/moderation/tripped-jobs/{report}/decide/", "/moderation/flagged-uploads/{upload}/decide/",
           "/moderation/reported-listings/{listing}/decide/", "/moderation/users/{owner}/suspend/",
           "/moderation/users/{owner}/reinstate/", "/moderation/listings/{listing_id}/suspend/",
           "/moderation/listings/{listing_id}/reinstate/"]


@pytest.fixture
def scene(make_user, moderator, tripped, flagged, reported):
    owner, buyer = make_user("ada"), make_user("bob")
    listing = reported(owner)
    listing_purchase(listing=listing, buyer=buyer, kind="buy", expected_price=listing.price_buy)
    ids = {"report": tripped(owner).pk, "upload": flagged(owner).pk, "listing": listing.pk,
           "listing_id": listing.listing_id, "owner": owner.pk}
    return {"ids": ids, "visitor": None, "another user": make_user("cy"), "buyer": buyer, "owner": owner,
            "moderator": moderator, "staff": make_user("sam", staff=True)}


def nothing_changed(scene):
    assert not ModerationAction.objects.exists()
    assert SafetyReport.objects.get(pk=scene["ids"]["report"]).breaker_state == "tripped"
    assert FlaggedUpload.objects.get().status == "pending"
    assert Listing.objects.get().status == "active"


def as_role(client, scene, role):
    if scene[role] is not None:
        client.force_login(scene[role])


@pytest.mark.parametrize("path", CONSOLE_PAGES + OPERATIONS_PAGES + ACTIONS)
def test_a_visitor_is_sent_to_log_in(client, scene, path):
    url = path.format(**scene["ids"])
    response = client.post(url, {"decision": "approve", "reason": "x"}) if path in ACTIONS else client.get(url)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    nothing_changed(scene)


@pytest.mark.parametrize("role", ["another user", "buyer", "owner"])
def test_people_who_are_not_moderators_are_refused_everywhere(client, scene, role):
    as_role(client, scene, role)

    for path in CONSOLE_PAGES + OPERATIONS_PAGES:
        assert client.get(path).status_code == 403, (role, path)
    for path in ACTIONS:
        for decision in ("approve", "reject", "dismiss", "suspend_listing", "suspend_owner"):
            url = path.format(**scene["ids"])
            assert client.post(url, {"decision": decision, "reason": "x"}).status_code == 403, (role, url)
    nothing_changed(scene)


def test_a_moderator_reaches_every_page(client, scene):
    as_role(client, scene, "moderator")

    for path in CONSOLE_PAGES + OPERATIONS_PAGES:
        assert client.get(path).status_code == 200, path
    assert client.get("/moderation/nonsense/").status_code == 404
    assert client.get("/moderation/operations/nonsense.json").status_code == 404


def test_staff_who_are_not_moderators_see_operations_but_not_the_console(client, scene):
    as_role(client, scene, "staff")

    for path in OPERATIONS_PAGES:
        assert client.get(path).status_code == 200, path
    for path in CONSOLE_PAGES:
        assert client.get(path).status_code == 403, path


def test_the_navigation_shows_moderation_to_moderators_and_operations_to_staff(client, scene):
    for role, moderation, operations in [("buyer", False, False), ("staff", False, True), ("moderator", True, True)]:
        as_role(client, scene, role)
        page = client.get("/").content.decode()
        assert ('href="/moderation/"' in page, 'href="/moderation/operations/"' in page) == (moderation, operations), role
