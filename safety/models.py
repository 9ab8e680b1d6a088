from django.conf import settings
from django.db import models


class SafetyReport(models.Model):
    """A job's safety checks and the state of its circuit breaker."""

    class Breaker(models.TextChoices):
        CLOSED = "closed"      # every safety check passed: deploy and listing may go ahead
        TRIPPED = "tripped"    # a check failed or training was stopped: waits for a moderator
        APPROVED = "approved"  # a moderator let it through
        REJECTED = "rejected"  # a moderator refused it

    # a job of distillation's, an app above this one: named, never imported
    job = models.OneToOneField("distillation.DistillationJob", on_delete=models.CASCADE, related_name="safety_report")
    checks = models.JSONField(default=dict, help_text="the safety checks of the job's report (those with a phase)")
    failed_checks = models.JSONField(default=list)
    breaker_state = models.CharField(max_length=10, choices=Breaker.choices, default=Breaker.CLOSED, db_index=True)
    reason = models.TextField(blank=True, help_text="why the breaker tripped, in plain words")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="safety_decisions")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"safety of {self.job.job_id}: {self.breaker_state}"

    @property
    def blocks_deploy(self) -> bool:
        return self.breaker_state in (self.Breaker.TRIPPED, self.Breaker.REJECTED)


class ReviewQueueItem(SafetyReport):
    """The moderators' queue: tripped breakers waiting for a decision (an admin view of SafetyReport)."""

    class Meta:
        proxy = True
        verbose_name = "tripped job awaiting review"
        verbose_name_plural = "review queue: tripped jobs"


class FlaggedUpload(models.Model):
    """An upload refused because its pickle scan found a forbidden import: a likely attack, kept for
    a moderator. Nothing of the file is kept but its name (for display) and its checksum."""

    class Kind(models.TextChoices):
        TEACHER = "teacher"
        DATASET = "dataset"

    class Status(models.TextChoices):
        PENDING = "pending"    # waits for a moderator
        APPROVED = "approved"  # a moderator found it harmless (a false alarm)
        REJECTED = "rejected"  # a moderator confirmed it as an attack

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="flagged_uploads")
    filename = models.CharField(max_length=255, blank=True, help_text="the uploader's file name, for display only")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.TextField(help_text="the refusal, naming the forbidden imports")
    imports = models.JSONField(default=list, help_text="the forbidden globals the scan found")
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="flagged_upload_decisions")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"flagged {self.kind} upload {self.filename or self.sha256[:12]} by {self.user}: {self.status}"


class FlaggedUploadQueueItem(FlaggedUpload):
    """The moderators' queue of flagged uploads still pending (an admin view of FlaggedUpload)."""

    class Meta:
        proxy = True
        verbose_name = "flagged upload awaiting review"
        verbose_name_plural = "review queue: flagged uploads"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("the moderation log is append-only")

    def delete(self):
        raise PermissionError("the moderation log is append-only")


class ModerationAction(models.Model):
    """Append-only audit log: one row per moderator action; never updated or deleted."""

    class Action(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"
        SUSPEND_USER = "suspend_user"
        REINSTATE_USER = "reinstate_user"
        DISMISS_REPORT = "dismiss_report"
        SUSPEND_LISTING = "suspend_listing"
        REINSTATE_LISTING = "reinstate_listing"

    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="moderation_actions")
    action = models.CharField(max_length=20, choices=Action.choices)
    job = models.ForeignKey("distillation.DistillationJob", null=True, blank=True, on_delete=models.PROTECT,
                            related_name="moderation_actions")
    upload = models.ForeignKey(FlaggedUpload, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="moderation_actions")
    listing = models.ForeignKey("marketplace.Listing", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="moderation_actions")
    target_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="moderation_received")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=~models.Q(reason=""), name="moderation_action_has_reason")]

    def __str__(self) -> str:
        return f"{self.action} by {self.moderator_id} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        # an audit row is written once; correcting it means adding another
        if self.pk is not None:
            raise PermissionError("the moderation log is append-only")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the moderation log is append-only")
