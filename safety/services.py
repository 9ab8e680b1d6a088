"""Writes for safety: a job's safety report and breaker, flagged uploads, and every moderator decision (audited)."""

from __future__ import annotations

import json
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.selectors import user_is_moderator
from core.errors import DomainError
from prsm.engine.checks.breaker import TRIP_FILE

from .models import FlaggedUpload, ModerationAction, SafetyReport



class SafetyError(DomainError):
    status_code = 409
    code = "conflict"


class NotModerator(SafetyError):
    status_code = 403
    code = "permission_denied"


def safety_checks_of(report: dict | None) -> dict:
    """The safety checks of an engine report: the records that carry a ``phase``."""
    return {name: check for name, check in ((report or {}).get("checks") or {}).items() if isinstance(check, dict) and check.get("phase")}


def _failure_reason(checks: dict, failed: list[str]) -> str:
    return "; ".join(f"{name}: {checks[name].get('detail', 'failed')}" for name in failed)


@transaction.atomic
def safety_report_build(*, job) -> SafetyReport:
    """From a completed job's report: any failed safety check trips the breaker."""
    checks = safety_checks_of(job.report)
    failed = sorted(name for name, check in checks.items() if not check.get("passed"))
    state = SafetyReport.Breaker.TRIPPED if failed else SafetyReport.Breaker.CLOSED
    report, _ = SafetyReport.objects.update_or_create(job=job, defaults={
        "checks": checks, "failed_checks": failed, "breaker_state": state, "reason": _failure_reason(checks, failed)})
    return report


@transaction.atomic
def safety_breaker_trip_record(*, job, folder: Path) -> SafetyReport | None:
    """A failed job whose training the breaker stopped: its record, read from the run's ``folder``."""
    path = folder / TRIP_FILE
    try:
        trip = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    checks = trip.get("checks") or {}
    failed = sorted(name for name, check in checks.items() if not check.get("passed"))
    report, _ = SafetyReport.objects.update_or_create(job=job, defaults={
        "checks": checks, "failed_checks": failed, "breaker_state": SafetyReport.Breaker.TRIPPED,
        "reason": f"training stopped by the circuit breaker: {trip.get('check', {}).get('detail', '')}"})
    return report


def require_moderator(user) -> None:
    if not user_is_moderator(user=user):
        raise NotModerator("Only moderators may do this.")


def require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise SafetyError("A reason is required.", field="reason")
    return reason


@transaction.atomic
def safety_report_decide(*, report: SafetyReport, moderator, approve: bool, reason: str) -> SafetyReport:
    """Approve (deploy may go ahead) or reject a tripped job, with the reason in the audit log."""
    require_moderator(moderator)
    reason = require_reason(reason)
    report = SafetyReport.objects.select_for_update().get(pk=report.pk)
    if report.breaker_state == SafetyReport.Breaker.CLOSED:
        raise SafetyError("The job passed its checks; there is nothing to decide.")
    report.breaker_state = SafetyReport.Breaker.APPROVED if approve else SafetyReport.Breaker.REJECTED
    report.decided_by, report.decided_at, report.decision_reason = moderator, timezone.now(), reason
    report.full_clean()
    report.save(update_fields=["breaker_state", "decided_by", "decided_at", "decision_reason"])
    action = ModerationAction.Action.APPROVE if approve else ModerationAction.Action.REJECT
    moderation_action_record(moderator=moderator, action=action, job=report.job, target_user=report.job.owner, reason=reason)
    return report


@transaction.atomic
def flagged_upload_record(*, user, kind: str, filename: str, sha256: str, reason: str,
                          imports: list[str]) -> FlaggedUpload:
    """An upload refused for a forbidden pickle import, queued for the moderators."""
    flagged = FlaggedUpload(user=user, kind=kind, filename="".join(c for c in filename if c.isprintable())[:255],
                            sha256=sha256, reason=reason[:2000], imports=imports[:50])
    flagged.full_clean()
    flagged.save()
    return flagged


@transaction.atomic
def flagged_upload_decide(*, flagged: FlaggedUpload, moderator, approve: bool, reason: str) -> FlaggedUpload:
    """Approve (a false alarm) or reject (a confirmed attack) a flagged upload, with the reason in the audit log."""
    require_moderator(moderator)
    reason = require_reason(reason)
    flagged = FlaggedUpload.objects.select_for_update().get(pk=flagged.pk)
    flagged.status = FlaggedUpload.Status.APPROVED if approve else FlaggedUpload.Status.REJECTED
    flagged.decided_by, flagged.decided_at, flagged.decision_reason = moderator, timezone.now(), reason
    flagged.full_clean()
    flagged.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    action = ModerationAction.Action.APPROVE if approve else ModerationAction.Action.REJECT
    moderation_action_record(moderator=moderator, action=action, upload=flagged, target_user=flagged.user,
                             reason=reason)
    return flagged


@transaction.atomic
def user_suspend(*, user, moderator, reason: str, suspend: bool = True) -> None:
    """Suspend (deactivate: no login, no token use) or reinstate a user; staff are out of reach."""
    require_moderator(moderator)
    reason = require_reason(reason)
    if user.is_staff or user.is_superuser:
        raise SafetyError("Staff accounts are not suspended from the moderation console.")
    user.is_active = not suspend
    user.save(update_fields=["is_active"])
    action = ModerationAction.Action.SUSPEND_USER if suspend else ModerationAction.Action.REINSTATE_USER
    moderation_action_record(moderator=moderator, action=action, target_user=user, reason=reason)


def moderation_action_record(*, moderator, action: str, reason: str, job=None, upload=None, listing=None,
                             target_user=None) -> ModerationAction:
    entry = ModerationAction(moderator=moderator, action=action, job=job, upload=upload, listing=listing,
                             target_user=target_user, reason=reason)
    entry.full_clean()
    entry.save()
    return entry
