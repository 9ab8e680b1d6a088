"""Webhook endpoints a user registers, the deliveries of events to them, and each attempt's outcome."""

import uuid

from django.conf import settings
from django.db import models

EVENT_TYPES = ("job.completed", "job.failed", "model.sold")
PING = "ping"  # the test event an owner sends by hand; never subscribed to


class WebhookEndpoint(models.Model):
    """A URL that receives the owner's events, signed with a secret that is stored encrypted
    (``accounts.secrets``) and shown once, when made or rotated; ``secret_prefix`` tells secrets apart.
    ``consecutive_failures`` counts event deliveries in a row that used up their retries; at
    ``WEBHOOK_DISABLE_AFTER_FAILURES`` the endpoint is disabled and its owner told."""

    endpoint_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.CharField(max_length=200, help_text="comma-delimited subset of EVENT_TYPES")
    is_active = models.BooleanField(default=True)
    secret_encrypted = models.TextField(editable=False)
    secret_prefix = models.CharField(max_length=16, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=200, blank=True, help_text="why the platform disabled it")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "is_active"], name="webhook_endpoint_user_active")]

    def __str__(self) -> str:
        return f"{self.url} ({self.user_id})"

    @property
    def event_list(self) -> list[str]:
        return [event for event in EVENT_TYPES if event in self.events.split(",")]


class WebhookDelivery(models.Model):
    """One event for one endpoint: the exact body every attempt sends, and where its attempts stand.
    ``delivery_id`` is the ``PRSM-Webhook-Id`` header, the same on every retry and re-send.
    ``final_attempt`` is the last attempt number this round may use (a re-send by hand allows one more)."""

    class Status(models.TextChoices):
        PENDING = "pending"      # an attempt is queued or will be, at next_attempt_at
        SUCCEEDED = "succeeded"  # a 2xx answer
        FAILED = "failed"        # its attempts are used up (or its endpoint was disabled)

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(editable=False)
    event_type = models.CharField(max_length=40)
    body = models.TextField(help_text="the JSON body, byte for byte what is signed and sent")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    final_attempt = models.PositiveIntegerField(default=1)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_recent"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"

    @property
    def last_attempt(self) -> "WebhookAttempt | None":
        attempts = list(self.attempts.all())  # prefetched by selectors.deliveries_of
        return attempts[-1] if attempts else None


class WebhookAttempt(models.Model):
    """One POST of a delivery: the answer's status and the start of its body, how long it took, or the error."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    manual = models.BooleanField(default=False, help_text="a re-send by hand")
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number_unique")]
