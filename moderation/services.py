"""The moderators' decisions from the console: each calls the service of the app that owns the thing
decided (which checks the moderator, requires the reason and writes the audit log), then tells the
affected person what was decided and why. None of the lower services notifies, so this is the one place."""

from __future__ import annotations

from django.db import transaction

from accounts.services import notification_send
from marketplace import services as marketplace
from marketplace.models import Listing, ListingReport
from safety import services as safety
from safety.models import FlaggedUpload, SafetyReport

NOTIFICATION_KIND = "moderation_decision"

JOB_DECISIONS = ("approve", "reject", "suspend_owner")
UPLOAD_DECISIONS = ("approve", "reject", "suspend_owner")
LISTING_DECISIONS = ("dismiss", "suspend_listing", "suspend_owner")


def _notify(user, message: str, reason: str, link: str = "") -> None:
    notification_send(user=user, kind=NOTIFICATION_KIND, message=f"{message} Reason: {reason}", link=link)


def _require_decision(decision: str, allowed: tuple[str, ...]) -> None:
    if decision not in allowed:
        raise safety.SafetyError(f"Unknown decision {decision!r}.", field="decision")


@transaction.atomic
def tripped_job_decide(*, report: SafetyReport, moderator, decision: str, reason: str) -> None:
    """Approve or reject a tripped job, or suspend its owner; the owner is told either way."""
    _require_decision(decision, JOB_DECISIONS)
    job = report.job
    reason = safety.require_reason(reason)
    if decision == "suspend_owner":
        user_suspension_set(user=job.owner, moderator=moderator, reason=reason, suspend=True)
        return
    safety.safety_report_decide(report=report, moderator=moderator, approve=decision == "approve", reason=reason)
    verdict = "approved: it may be deployed and listed" if decision == "approve" else "rejected: it will not be deployed"
    _notify(job.owner, f"A moderator {verdict} (job {job.job_id}).", reason, link=f"/jobs/{job.job_id}/")


@transaction.atomic
def flagged_upload_decide(*, flagged: FlaggedUpload, moderator, decision: str, reason: str) -> None:
    """Approve (a false alarm) or reject (an attack) a flagged upload, or suspend its uploader; the uploader is told."""
    _require_decision(decision, UPLOAD_DECISIONS)
    reason = safety.require_reason(reason)
    if decision == "suspend_owner":
        user_suspension_set(user=flagged.user, moderator=moderator, reason=reason, suspend=True)
        return
    approve = decision == "approve"
    safety.flagged_upload_decide(flagged=flagged, moderator=moderator, approve=approve, reason=reason)
    verdict = ("found your flagged upload harmless (a false alarm); you may upload it again" if approve
               else "confirmed your flagged upload as unsafe")
    _notify(flagged.user, f"A moderator {verdict} ({flagged.filename or flagged.sha256[:12]}).", reason)


@transaction.atomic
def reported_listing_decide(*, listing: Listing, moderator, decision: str, reason: str) -> None:
    """Every open report of a listing at once: dismiss them, suspend the listing (its owner is told) or
    suspend its owner (the reports count as actioned); the reporters are told either way."""
    _require_decision(decision, LISTING_DECISIONS)
    reason = safety.require_reason(reason)
    reports = list(ListingReport.objects.filter(listing=listing, status=ListingReport.Status.OPEN)
                   .select_related("reporter").order_by("pk"))
    if decision != "suspend_owner" and not reports:
        raise safety.SafetyError("This listing has no open report.")
    if decision == "suspend_owner":  # the listing leaves search with its owner: the reports were acted on
        user_suspension_set(user=listing.owner, moderator=moderator, reason=reason, suspend=True)
        marketplace.listing_reports_action(listing=listing, moderator=moderator, reason=reason)
        outcome = "suspended the owner of"
    elif decision == "dismiss":
        for report in reports:
            marketplace.listing_report_dismiss(report=report, moderator=moderator, reason=reason)
        outcome = "found nothing to act on in"
    else:
        listing_suspension_set(listing=listing, moderator=moderator, reason=reason, suspend=True)
        outcome = "suspended"
    for reporter in {report.reporter for report in reports}:
        _notify(reporter, f"A moderator {outcome} the listing you reported, “{listing.title}”.", reason)


@transaction.atomic
def listing_suspension_set(*, listing: Listing, moderator, reason: str, suspend: bool) -> Listing:
    """Suspend or reinstate a listing; its owner is told."""
    listing = marketplace.listing_suspend(listing=listing, moderator=moderator, reason=reason, suspend=suspend)
    done = "suspended" if suspend else "reinstated"
    _notify(listing.owner, f"A moderator {done} your listing “{listing.title}”.", reason.strip(),
            link=f"/marketplace/{listing.listing_id}/")
    return listing


@transaction.atomic
def user_suspension_set(*, user, moderator, reason: str, suspend: bool) -> None:
    """Suspend (no sign-in, no API use, listings hidden) or reinstate an account; its holder is told
    (the notification waits on the account page for when it is reinstated)."""
    safety.user_suspend(user=user, moderator=moderator, reason=reason, suspend=suspend)
    done = "suspended" if suspend else "reinstated"
    _notify(user, f"A moderator {done} your account.", reason.strip())
