"""Metered predictions and the bills that charge them (docs/SERVING.md)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Prediction(models.Model):
    """One call of a deployed model: who called, how many inputs, at what price. Append-only; a billing
    run (serving/billing.py) gathers the unbilled rows of a priced listing into a ``UsageBill``."""

    class Source(models.TextChoices):
        API = "api"        # POST /api/v1/models/{model_id}/predict/ (SDK and CLI included)
        TRY = "try"        # "Try it" on the job page or a listing

    deployment = models.ForeignKey("distillation.DeployedModel", on_delete=models.PROTECT, related_name="predictions")
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="predictions")
    token = models.ForeignKey("accounts.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    access = models.CharField(max_length=8, help_text="owner, buyer, renter or trial: why the caller could call")
    inputs = models.PositiveIntegerField()
    price_per_1k = models.PositiveBigIntegerField(default=0, help_text="units per 1,000 inputs when called; 0: free")
    latency_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    bill = models.ForeignKey("UsageBill", null=True, blank=True, on_delete=models.PROTECT, related_name="predictions")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["caller", "deployment", "created_at"], name="prediction_caller_recent"),
            models.Index(fields=["bill", "price_per_1k"], name="prediction_unbilled"),
        ]

    def __str__(self) -> str:
        return f"{self.inputs} input(s) of {self.deployment_id} by {self.caller_id}"


class UsageBill(models.Model):
    """One charge for a caller's predictions of one listing: the sum of inputs x price per 1,000, in exact
    units; what falls below one unit is carried to the caller's next bill for that listing."""

    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="usage_bills")
    deployment = models.ForeignKey("distillation.DeployedModel", on_delete=models.PROTECT, related_name="usage_bills")
    predictions_count = models.PositiveIntegerField(help_text="inputs billed")
    amount = models.PositiveBigIntegerField(help_text="units charged")
    carry_milli = models.PositiveIntegerField(default=0, help_text="thousandths of a unit carried to the next bill")
    transaction = models.OneToOneField("ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="usage_bill")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"bill {self.pk}: {self.amount} units for {self.predictions_count} inputs"
