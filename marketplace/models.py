import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from core import clock

from distillation.models import DeployedModel
from ledger.models import Transaction


class ListingFamily(models.Model):
    """The versions of one model: a re-run or an update of the same model by the same owner (same teacher
    lineage, or one job started from the other) is listed as a new version in its family."""

    family_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="listing_families")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "listing families"

    def __str__(self) -> str:
        return f"family {self.family_id}"


class Listing(models.Model):
    """A deployed model offered for sale or rent. Benchmarks and lineage are read from the job's report;
    retention and latency are copied here (a completed job's report never changes) so search can filter."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"  # by a moderator
        WITHDRAWN = "withdrawn"  # by its owner

    listing_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    deployment = models.OneToOneField(DeployedModel, on_delete=models.PROTECT, related_name="listing")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="listings")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    domain = models.CharField(max_length=100, blank=True, db_index=True)
    price_buy = models.PositiveBigIntegerField(null=True, blank=True, help_text="units (1 FTNS = 1,000,000); null: not for sale")
    price_rent = models.PositiveBigIntegerField(null=True, blank=True, help_text="units per rent period; null: not for rent")
    price_per_1k_predictions = models.PositiveBigIntegerField(
        default=0, help_text="units charged to a buyer or renter per 1,000 predictions of the served model; 0: free")
    rent_period_days = models.PositiveSmallIntegerField(default=30, validators=[MinValueValidator(1), MaxValueValidator(3650)])
    retention = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True, help_text="the student's p50 latency, batch 1, CPU")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Catalogue facts, copied from the job and its report when listed (a completed job's report never
    # changes), so search filters and sorts on columns.
    family = models.ForeignKey(ListingFamily, null=True, blank=True, on_delete=models.PROTECT, related_name="listings")
    version = models.PositiveIntegerField(default=1)
    superseded = models.BooleanField(default=False, help_text="a newer version of its family is on sale: "
                                     "search shows that one (services.family_superseded_refresh keeps it)")
    category = models.CharField(max_length=60, blank=True, db_index=True,
                                help_text="a slug of the documented taxonomy, e.g. text/sentiment")
    task = models.CharField(max_length=16, blank=True, db_index=True, help_text="text, tabular or image")
    size_bytes = models.BigIntegerField(null=True, blank=True, help_text="the listed export's size")
    compression = models.FloatField(null=True, blank=True, help_text="teacher parameters / student parameters")
    export_formats = models.CharField(max_length=200, blank=True,
                                      help_text="the verified exports, comma-delimited with a comma at each end")
    recommended_price = models.PositiveBigIntegerField(null=True, blank=True,
                                                       help_text="units; the rule's advice when listed")
    search_document = models.TextField(blank=True, help_text="title, description, category, domain and model card")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["family", "version"], name="listing_one_per_family_version"),
            # not "price > 0": NULL > 0 is NULL, which a CHECK lets through
            models.CheckConstraint(condition=models.Q(price_buy__isnull=False) | models.Q(price_rent__isnull=False),
                                   name="listing_has_a_price"),
            models.CheckConstraint(condition=models.Q(price_buy__isnull=True) | models.Q(price_buy__gt=0),
                                   name="listing_buy_price_positive"),
            models.CheckConstraint(condition=models.Q(price_rent__isnull=True) | models.Q(price_rent__gt=0),
                                   name="listing_rent_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def job(self):
        return self.deployment.job

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Purchase(models.Model):
    """A buyer's right to download a listing's model: for good (buy) or until ``expires_at`` (rent)."""

    class Kind(models.TextChoices):
        BUY = "buy"
        RENT = "rent"

    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="purchases")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchases")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    price = models.PositiveBigIntegerField(help_text="units paid")
    transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, related_name="purchase")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="a rent's end; null for a purchase")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.listing_id} by {self.buyer_id}"

    @property
    def is_current(self) -> bool:
        return self.expires_at is None or self.expires_at > clock.now()


class Download(models.Model):
    """One download of a listing's model by a buyer or renter (the owner's own are not counted): the
    seller's dashboard counts them."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="downloads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="listing_downloads")
    format = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.format} of {self.listing_id} by {self.user_id}"


class Rating(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="ratings")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="listing_ratings")
    stars = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    review = models.TextField(blank=True, max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(null=True, blank=True, help_text="when its author last changed it")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "rater"], name="one_rating_per_buyer"),
            models.CheckConstraint(condition=models.Q(stars__gte=1, stars__lte=5), name="rating_stars_1_to_5"),
        ]


class ListingReport(models.Model):
    """A user's report of a listing, queued for the moderators."""

    class Status(models.TextChoices):
        OPEN = "open"
        DISMISSED = "dismissed"  # a moderator found nothing wrong
        ACTIONED = "actioned"    # the listing was suspended

    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="listing_reports")
    reason = models.TextField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="listing_report_decisions")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "reporter"], condition=models.Q(status="open"),
                                    name="one_open_report_per_user_and_listing"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="listing_report_has_reason"),
        ]

    def __str__(self) -> str:
        return f"report of {self.listing} by {self.reporter}: {self.status}"


class Bonus(models.Model):
    """A bonus paid from the platform's revenue to a listing's owner for one period, by the documented rule;
    one per listing, kind and period however often the scheduler runs."""

    class Kind(models.TextChoices):
        PERFORMANCE = "performance"  # highly rated and often bought
        EFFICIENCY = "efficiency"    # keeps the most quality per parameter

    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="bonuses")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    period = models.CharField(max_length=10, help_text="the period paid for, e.g. 2026-12")
    amount = models.PositiveBigIntegerField(help_text="units")
    reason = models.CharField(max_length=300)
    transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, related_name="bonus")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "kind", "period"], name="bonus_once_per_listing_kind_period"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="bonus_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} bonus {self.period} for {self.listing_id}"


class ReportedListingQueueItem(ListingReport):
    """The moderators' queue of open listing reports (an admin view of ListingReport)."""

    class Meta:
        proxy = True
        verbose_name = "reported listing awaiting review"
        verbose_name_plural = "review queue: reported listings"
