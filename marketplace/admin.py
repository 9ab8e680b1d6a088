"""The moderation console's marketplace part: the review queue of reported listings and every listing,
with dismiss / suspend / reinstate actions (each asks for a reason and writes safety's audit log)."""

from django.contrib import admin

from safety import services as safety
from safety.console import ModeratorOnly, reason_action

from . import services
from .models import Listing, ListingReport, ReportedListingQueueItem


def dismiss_report(modeladmin, request, report, reason):
    services.listing_report_dismiss(report=report, moderator=request.user, reason=reason)


def suspend_reported_listing(modeladmin, request, report, reason):
    if report.listing.status != Listing.Status.SUSPENDED:  # several reports of one listing: suspend it once
        services.listing_suspend(listing=report.listing, moderator=request.user, reason=reason)


def suspend_listing(modeladmin, request, listing, reason):
    services.listing_suspend(listing=listing, moderator=request.user, reason=reason)


def reinstate_listing(modeladmin, request, listing, reason):
    services.listing_suspend(listing=listing, moderator=request.user, reason=reason, suspend=False)


def suspend_listing_owner(modeladmin, request, item, reason):
    listing = item.listing if isinstance(item, ListingReport) else item
    safety.user_suspend(user=listing.owner, moderator=request.user, reason=reason)


dismiss_action = reason_action("Dismiss the reports", dismiss_report, name="dismiss_reports")
suspend_reported_action = reason_action("Suspend the listings", suspend_reported_listing, name="suspend_listings")
suspend_action = reason_action("Suspend the listings", suspend_listing, name="suspend_listings")
reinstate_action = reason_action("Reinstate the listings", reinstate_listing, name="reinstate_listings")
suspend_owner_action = reason_action("Suspend the owners", suspend_listing_owner, name="suspend_owners")


@admin.register(ListingReport)
class ListingReportAdmin(ModeratorOnly):
    list_display = ("created_at", "listing", "listing_status", "reporter", "reason", "status", "decided_by")
    list_filter = ("status",)
    search_fields = ("listing__title", "reporter__username", "listing__owner__username", "reason")
    readonly_fields = ("listing", "reporter", "reason", "status", "decided_by", "decided_at", "decision_reason",
                       "created_at")
    actions = [dismiss_action, suspend_reported_action, suspend_owner_action]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("listing", "listing__owner", "reporter", "decided_by")

    @admin.display(description="listing status")
    def listing_status(self, report):
        return report.listing.status


@admin.register(ReportedListingQueueItem)
class ReportedListingQueueAdmin(ListingReportAdmin):
    """Open reports, oldest first."""

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=ListingReport.Status.OPEN).order_by("created_at")


@admin.register(Listing)
class ListingAdmin(ModeratorOnly):
    list_display = ("title", "owner", "domain", "status", "price_buy", "price_rent", "retention", "created_at")
    list_filter = ("status", "domain")
    search_fields = ("title", "owner__username", "domain", "listing_id")
    readonly_fields = ("listing_id", "deployment", "owner", "title", "description", "domain", "price_buy", "price_rent",
                       "rent_period_days", "retention", "latency_ms", "status", "created_at")
    actions = [suspend_action, reinstate_action, suspend_owner_action]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner")
