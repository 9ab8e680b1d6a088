"""Each queue lists what waits in it, oldest first, with its evidence; a decision needs a reason, goes
through the owning app's service, lands in the audit log and is sent to the person it affects."""

import pytest

from accounts.models import Notification
from marketplace.models import Listing, ListingReport
from safety.models import FlaggedUpload, ModerationAction, SafetyReport


def decide(client, queue, pk, decision, reason="checked by hand"):
    return client.post(f"/moderation/{queue}/{pk}/decide/", {"decision": decision, "reason": reason})


def notifications(user):
    return list(Notification.objects.filter(user=user, kind="moderation_decision").values_list("message", flat=True))


def test_the_tripped_jobs_queue_shows_the_failed_checks_with_their_evidence(client, moderator, make_user, tripped):
    report = tripped(make_user("ada"))
    client.force_login(moderator)

    page = client.get("/moderation/tripped-jobs/").content.decode()

    assert str(report.job.job_id) in page
    assert "3 of 40 toxic outputs" in page and "toxicity" in page and "0.15" in page
    assert 'class="failed-check"' in page


def test_approving_a_tripped_job_needs_a_reason_then_logs_and_tells_the_owner(client, moderator, make_user, tripped):
    ada = make_user("ada")
    report = tripped(ada)
    client.force_login(moderator)

    refused = decide(client, "tripped-jobs", report.pk, "approve", reason="  ")
    report.refresh_from_db()
    assert refused.status_code == 400 and "This field is required." in refused.content.decode()
    assert report.breaker_state == "tripped" and not ModerationAction.objects.exists() and notifications(ada) == []

    done = decide(client, "tripped-jobs", report.pk, "approve", reason="the toxic outputs quote the data set")
    assert done.status_code == 302 and done["Location"] == "/moderation/tripped-jobs/"
    report.refresh_from_db()
    assert (report.breaker_state, report.decided_by, report.decision_reason) == (
        "approved", moderator, "the toxic outputs quote the data set")
    action = ModerationAction.objects.get()
    assert (action.action, action.job, action.target_user) == ("approve", report.job, ada)
    [message] = notifications(ada)
    assert "approved" in message and "the toxic outputs quote the data set" in message
    assert str(report.job.job_id) not in client.get("/moderation/tripped-jobs/").content.decode()


def test_rejecting_a_tripped_job_and_suspending_its_owner(client, moderator, make_user, tripped):
    ada, bob = make_user("ada"), make_user("bob")
    rejected, suspended = tripped(ada), tripped(bob)
    client.force_login(moderator)

    decide(client, "tripped-jobs", rejected.pk, "reject", reason="harmful outputs")
    decide(client, "tripped-jobs", suspended.pk, "suspend_owner", reason="repeated attempts")

    rejected.refresh_from_db()
    bob.refresh_from_db()
    assert rejected.breaker_state == SafetyReport.Breaker.REJECTED
    assert not bob.is_active
    assert "rejected" in notifications(ada)[0] and "harmful outputs" in notifications(ada)[0]
    assert "suspended your account" in notifications(bob)[0]
    assert set(ModerationAction.objects.values_list("action", flat=True)) == {"reject", "suspend_user"}


def test_the_flagged_uploads_queue_shows_what_the_scan_found_and_takes_decisions(client, moderator, make_user, flagged):
    ada = make_user("ada")
    first, second = flagged(ada, "evil.pkl"), flagged(ada, "fine.pkl")
    client.force_login(moderator)

    page = client.get("/moderation/flagged-uploads/").content.decode()
    assert page.index("evil.pkl") < page.index("fine.pkl")  # oldest first
    assert "os.system" in page and "ab" * 32 in page and "forbidden import os.system" in page

    decide(client, "flagged-uploads", first.pk, "reject", reason="a reverse shell")
    decide(client, "flagged-uploads", second.pk, "approve", reason="a false alarm")

    assert dict(FlaggedUpload.objects.values_list("filename", "status")) == {"evil.pkl": "rejected", "fine.pkl": "approved"}
    messages = notifications(ada)
    assert any("unsafe" in m and "a reverse shell" in m for m in messages)
    assert any("false alarm" in m for m in messages)
    assert client.get("/moderation/flagged-uploads/").context["items"] == []


def test_the_reported_listings_queue_shows_every_report_and_dismisses_them_together(client, moderator, make_user, reported):
    listing = reported(make_user("ada"))
    client.force_login(moderator)

    page = client.get("/moderation/reported-listings/").content.decode()
    assert "Suspicious digits" in page and "eve: a copied model" in page and "fay: a copied model" in page

    decide(client, "reported-listings", listing.pk, "dismiss", reason="an original model")

    assert set(ListingReport.objects.values_list("status", flat=True)) == {"dismissed"}
    assert ModerationAction.objects.filter(action="dismiss_report").count() == 2
    for name in ("eve", "fay"):
        [message] = notifications(type(listing.owner).objects.get(username=name))
        assert "found nothing to act on" in message and "an original model" in message
    listing.refresh_from_db()
    assert listing.status == "active"
    assert client.get("/moderation/reported-listings/").context["items"] == []


def test_suspending_a_reported_listing_tells_its_owner_and_the_reporters(client, moderator, make_user, reported):
    ada = make_user("ada")
    listing = reported(ada)
    client.force_login(moderator)

    decide(client, "reported-listings", listing.pk, "suspend_listing", reason="a copy of a catalog model")

    listing.refresh_from_db()
    assert listing.status == Listing.Status.SUSPENDED
    assert set(ListingReport.objects.values_list("status", flat=True)) == {"actioned"}
    assert "suspended your listing" in notifications(ada)[0]
    assert "suspended the listing you reported" in notifications(type(ada).objects.get(username="eve"))[0]


def test_suspending_a_reported_listings_owner_closes_its_reports_and_tells_owner_and_reporters(
        client, moderator, make_user, reported):
    ada = make_user("ada")
    listing = reported(ada)
    client.force_login(moderator)

    decide(client, "reported-listings", listing.pk, "suspend_owner", reason="sells copies of catalog models")

    ada.refresh_from_db()
    assert not ada.is_active
    assert set(ListingReport.objects.values_list("status", flat=True)) == {"actioned"}
    assert client.get("/moderation/reported-listings/").context["items"] == []  # the queue item is done
    assert "suspended your account" in notifications(ada)[0]
    assert "suspended the owner of the listing you reported" in notifications(type(ada).objects.get(username="eve"))[0]


def test_an_item_decided_already_sends_the_moderator_back_to_the_queue(client, moderator, make_user, tripped):
    report = tripped(make_user("ada"))
    client.force_login(moderator)
    decide(client, "tripped-jobs", report.pk, "approve")

    again = decide(client, "tripped-jobs", report.pk, "reject")

    assert again.status_code == 302
    report.refresh_from_db()
    assert report.breaker_state == "approved" and ModerationAction.objects.count() == 1


@pytest.mark.parametrize("decision", ["", "delete_everything"])
def test_an_unknown_decision_is_refused(client, moderator, make_user, tripped, decision):
    report = tripped(make_user("ada"))
    client.force_login(moderator)

    assert decide(client, "tripped-jobs", report.pk, decision).status_code == 400
    report.refresh_from_db()
    assert report.breaker_state == "tripped"


def test_the_console_counts_what_waits_in_each_queue(client, moderator, make_user, tripped, flagged, reported):
    ada = make_user("ada")
    tripped(ada)
    flagged(ada)
    flagged(ada)
    reported(ada)
    client.force_login(moderator)

    page = client.get("/moderation/")

    assert page.context["queue_sizes"] == {"jobs": 1, "uploads": 2, "reports": 1}
