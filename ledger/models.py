"""Double-entry FTNS ledger.

A Transaction and its Entries are append-only (database triggers refuse UPDATE and DELETE; see
migration 0002); corrections are reversing transactions. An account's ``balance`` is a cache of
the sum of its entries, written only by ``services._post`` under the account's row lock and
proved equal by ``selectors.ledger_problems`` (run after every test and by ``manage.py
ledger_verify``).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


USER_KINDS = ["wallet", "promo"]  # the accounts that belong to a user


class Account(models.Model):
    class Kind(models.TextChoices):
        WALLET = "wallet", "User wallet"
        PROMO = "promo", "Promotional credit (pays for jobs only)"
        PLATFORM_REVENUE = "platform_revenue", "Platform revenue"
        HOLDS = "holds", "Job budget holds (escrow)"
        CATALOG_TEACHERS = "catalog_teachers", "Catalog teachers' access fees and shares"
        ISSUANCE = "issuance", "Issuance (grants and deposits come from here)"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    code = models.CharField(max_length=64, unique=True)
    # A user has a wallet and, once granted some, a promotional credit account; platform accounts have no user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="ftns_accounts"
    )
    balance = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Issuance is the only account that goes negative: it is minus all the FTNS in existence.
            models.CheckConstraint(
                condition=Q(balance__gte=0) | Q(kind="issuance"), name="ledger_account_never_negative"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=USER_KINDS, user__isnull=False) | (~Q(kind__in=USER_KINDS) & Q(user__isnull=True)),
                name="ledger_account_user_accounts_have_a_user",
            ),
            models.UniqueConstraint(fields=["user", "kind"], name="ledger_account_one_per_user_and_kind"),
        ]

    def __str__(self) -> str:
        return self.code


class Transaction(models.Model):
    class Kind(models.TextChoices):
        SIGNUP_GRANT = "signup_grant", "Signup grant"
        GRANT = "grant", "Staff grant"
        DEPOSIT = "deposit", "Deposit"
        TRANSFER = "transfer", "Transfer"
        HOLD = "hold", "Job budget hold"
        SETTLE = "settle", "Job settlement"
        RELEASE = "release", "Hold released"
        REFUND = "refund", "Hold refunded"
        SALE = "sale", "Marketplace sale"
        REVERSAL = "reversal", "Reversal"
        BONUS = "bonus", "Marketplace bonus"
        USAGE = "usage", "Model usage (predictions)"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    memo = models.CharField(max_length=500, blank=True)
    reference = models.CharField(max_length=200, blank=True, db_index=True)
    # Operations that a retry or a redelivered message may repeat carry a key; the unique index
    # makes the second attempt fail instead of moving money twice.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class Entry(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField()  # units; positive credits the account, negative debits it
    balance_after = models.BigIntegerField()  # the account's balance once this entry is applied

    class Meta:
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_amount_not_zero"),
            models.UniqueConstraint(fields=["transaction", "account"], name="ledger_entry_one_per_account"),
        ]
        indexes = [models.Index(fields=["account", "id"], name="ledger_entry_account_id")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount:+d}"


class Hold(models.Model):
    """A job's budget in escrow, keyed by the job's reference; closed exactly once."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        SETTLED = "settled", "Settled"
        RELEASED = "released", "Released"
        REFUNDED = "refunded", "Refunded"

    reference = models.CharField(max_length=200, unique=True)
    wallet = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount = models.BigIntegerField()
    budget = models.BigIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    charged = models.BigIntegerField(default=0)
    released = models.BigIntegerField(default=0)
    place_transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, related_name="hold_placed")
    close_transaction = models.OneToOneField(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="hold_closed"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0, amount__lte=F("budget")), name="ledger_hold_within_budget"),
            models.CheckConstraint(
                condition=Q(state="open", close_transaction__isnull=True, charged=0, released=0)
                | (~Q(state="open") & Q(close_transaction__isnull=False, charged__gte=0, released__gte=0)
                   & Q(amount=F("charged") + F("released"))),
                name="ledger_hold_closed_once_and_whole",
            ),
        ]

    def __str__(self) -> str:
        return f"hold {self.reference} ({self.state})"


class IdempotencyKey(models.Model):
    """The first response to a money-moving POST, replayed for the same key and body for 24 hours."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and canonical body
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True)  # JSON text, kept as sent so that replays are byte-identical
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="ledger_idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
