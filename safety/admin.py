"""The moderation console: the Django admin arranged for moderators (staff in the moderators group).

Review queues of tripped jobs and of flagged uploads (refused for a forbidden pickle import), with
approve / reject / suspend-the-owner actions, each asking for a reason and going through
``services`` (which writes the audit log); every report, every flagged upload and the audit log
itself, read-only. Anyone who is not a moderator is refused. The queue of reported listings lives in
marketplace/admin.py, built from the same pieces (safety/console.py).
"""

from django.contrib import admin

from . import services
from .console import ModeratorOnly, reason_action
from .models import FlaggedUpload, FlaggedUploadQueueItem, ModerationAction, ReviewQueueItem, SafetyReport


def approve(modeladmin, request, report, reason):
    services.safety_report_decide(report=report, moderator=request.user, approve=True, reason=reason)


def reject(modeladmin, request, report, reason):
    services.safety_report_decide(report=report, moderator=request.user, approve=False, reason=reason)


def suspend_owner(modeladmin, request, report, reason):
    services.user_suspend(user=report.job.owner, moderator=request.user, reason=reason)


approve_action = reason_action("Approve for deploy", approve, name="approve_selected")
reject_action = reason_action("Reject", reject, name="reject_selected")
suspend_action = reason_action("Suspend the owners", suspend_owner, name="suspend_owners")


class SafetyReportAdmin(ModeratorOnly):
    list_display = ("job_id", "owner", "breaker_state", "failed", "created_at", "decided_by")
    list_filter = ("breaker_state",)
    search_fields = ("job__job_id", "job__owner__username")
    readonly_fields = ("job", "breaker_state", "failed_checks", "reason", "checks", "decided_by", "decided_at",
                       "decision_reason", "created_at")
    actions = [approve_action, reject_action, suspend_action]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("job", "job__owner", "decided_by")

    @admin.display(description="job")
    def job_id(self, report):
        return report.job.job_id

    @admin.display(description="owner")
    def owner(self, report):
        return report.job.owner

    @admin.display(description="failed checks")
    def failed(self, report):
        return ", ".join(report.failed_checks) or "-"


@admin.register(SafetyReport)
class AllSafetyReportsAdmin(SafetyReportAdmin):
    pass


@admin.register(ReviewQueueItem)
class ReviewQueueAdmin(SafetyReportAdmin):
    """Tripped breakers, oldest first: the moderators' to-do list."""

    def get_queryset(self, request):
        return super().get_queryset(request).filter(breaker_state=SafetyReport.Breaker.TRIPPED).order_by("created_at")


def approve_upload(modeladmin, request, flagged, reason):
    services.flagged_upload_decide(flagged=flagged, moderator=request.user, approve=True, reason=reason)


def reject_upload(modeladmin, request, flagged, reason):
    services.flagged_upload_decide(flagged=flagged, moderator=request.user, approve=False, reason=reason)


def suspend_uploader(modeladmin, request, flagged, reason):
    services.user_suspend(user=flagged.user, moderator=request.user, reason=reason)


approve_upload_action = reason_action("Approve: a false alarm", approve_upload, name="approve_selected")
reject_upload_action = reason_action("Reject: a confirmed attack", reject_upload, name="reject_selected")
suspend_uploader_action = reason_action("Suspend the uploaders", suspend_uploader, name="suspend_owners")


@admin.register(FlaggedUpload)
class FlaggedUploadAdmin(ModeratorOnly):
    list_display = ("created_at", "user", "kind", "filename", "imports_found", "status", "decided_by")
    list_filter = ("status", "kind")
    search_fields = ("user__username", "filename", "sha256", "reason")
    readonly_fields = ("user", "kind", "filename", "sha256", "imports", "reason", "status", "decided_by", "decided_at",
                       "decision_reason", "created_at")
    actions = [approve_upload_action, reject_upload_action, suspend_uploader_action]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "decided_by")

    @admin.display(description="forbidden imports")
    def imports_found(self, flagged):
        return ", ".join(flagged.imports) or "-"


@admin.register(FlaggedUploadQueueItem)
class FlaggedUploadQueueAdmin(FlaggedUploadAdmin):
    """Pending flagged uploads, oldest first."""

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=FlaggedUpload.Status.PENDING).order_by("created_at")


@admin.register(ModerationAction)
class ModerationActionAdmin(ModeratorOnly):
    list_display = ("created_at", "moderator", "action", "job", "upload", "listing", "target_user", "reason")
    list_filter = ("action",)
    search_fields = ("moderator__username", "target_user__username", "reason")
    readonly_fields = ("created_at", "moderator", "action", "job", "upload", "listing", "target_user", "reason")
