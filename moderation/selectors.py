"""Reads for the moderation console: the three queues, the queue sizes, accounts and listings to
suspend or reinstate, and the audit log as CSV rows."""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model
from django.db.models import Count, Min, Prefetch, Q

from marketplace.models import Listing, ListingReport
from safety import selectors as safety

AUDIT_CSV_HEADER = ["time (UTC)", "moderator", "action", "subject kind", "subject", "affected user", "reason"]


def reported_listings_queue():
    """Listings with open reports, the longest-waiting first, each with its open reports (oldest first)
    as ``open_reports``."""
    open_reports = Q(reports__status=ListingReport.Status.OPEN)
    reports = ListingReport.objects.filter(status=ListingReport.Status.OPEN).select_related("reporter").order_by("created_at", "pk")
    return (Listing.objects.filter(open_reports).select_related("owner")
            .annotate(first_report_at=Min("reports__created_at", filter=open_reports),
                      open_report_count=Count("reports", filter=open_reports, distinct=True))
            .prefetch_related(Prefetch("reports", queryset=reports, to_attr="open_reports"))
            .order_by("first_report_at", "pk"))


def queue_sizes() -> dict[str, int]:
    return {"jobs": safety.tripped_jobs_queue().count(), "uploads": safety.flagged_uploads_queue().count(),
            "reports": ListingReport.objects.filter(status=ListingReport.Status.OPEN).values("listing").distinct().count()}


def suspended_users():
    return get_user_model().objects.filter(is_active=False, is_staff=False, is_superuser=False).order_by("username")


def user_by_username(username: str):
    return get_user_model().objects.filter(username__iexact=username.strip()).first() if username.strip() else None


def listings_for_moderation(*, q: str = ""):
    """Suspended listings, and with ``q`` any listing whose title, owner or id matches it."""
    listings = Listing.objects.select_related("owner")
    if q:
        match = Q(title__icontains=q) | Q(owner__username__iexact=q)
        try:
            match |= Q(listing_id=uuid.UUID(q))
        except ValueError:
            pass
        return listings.filter(match).order_by("title", "pk")[:50]
    return listings.filter(status=Listing.Status.SUSPENDED).order_by("title", "pk")


def audit_subject(action, *, short: bool = False) -> tuple[str, str]:
    """What an audit row is about: (kind, a readable name with its id; ``short``: a checksum's start)."""
    if action.job_id:
        return "job", str(action.job.job_id)
    if action.upload_id:
        sha256 = action.upload.sha256[:12] + "…" if short else action.upload.sha256
        return "upload", f"{action.upload.filename} ({sha256})"
    if action.listing_id:
        return "listing", f"{action.listing.title} ({action.listing.listing_id})"
    return "user", action.target_user.username if action.target_user_id else ""


def _csv_cell(value: str) -> str:
    # a spreadsheet runs a cell that starts with one of these as a formula
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def audit_csv_rows(actions):
    """The header, then one row per audit entry (``safety.moderation_actions_filtered``)."""
    yield AUDIT_CSV_HEADER
    for action in actions.iterator(chunk_size=500):
        kind, subject = audit_subject(action)
        yield [_csv_cell(value) for value in (
            action.created_at.strftime("%Y-%m-%d %H:%M:%S"), action.moderator.username, action.action, kind, subject,
            action.target_user.username if action.target_user_id else "", action.reason)]
