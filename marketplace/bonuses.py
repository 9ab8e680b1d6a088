"""Bonuses: the documented rule (docs/BONUSES.md) and the service that pays a period exactly once.

A period is a calendar month in UTC, named ``YYYY-MM``. For each finished period:

- a **performance** bonus goes to each listing bought or rented at least ``PERFORMANCE_MIN_SALES``
  times in the period and rated at least ``PERFORMANCE_MIN_AVERAGE`` on average from at least
  ``PERFORMANCE_MIN_RATINGS`` ratings (those given before the period ended): ``PERFORMANCE_PERCENT``
  of what the ledger credited its owner for it in the period, rounded down, at most ``PERFORMANCE_CAP``;
- an **efficiency** bonus of ``EFFICIENCY_AMOUNT`` goes to the one listing per category that keeps
  the most quality per parameter (retention x compression), among those sold in the period that
  keep at least ``EFFICIENCY_MIN_RETENTION`` of their teacher's quality.

Listings a moderator suspended, or whose owner is suspended, are not paid. The money comes from
the platform's revenue account, all or none: when it holds less than the period's outstanding
bonuses, nothing is paid and the next run tries again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.urls import reverse

from accounts.services import notification_send
from core import clock
from ledger import services as ledger
from ledger.amounts import UNITS_PER_FTNS, display_ftns
from ledger.errors import InsufficientFunds
from ledger.models import Account, Entry, Transaction

from .models import Bonus, Listing, Purchase, Rating
from .selectors import listing_reference

log = logging.getLogger("prsm.bonuses")

PERFORMANCE_MIN_SALES = 3  # buys and rents in the period whose sale was not reversed
PERFORMANCE_MIN_RATINGS = 3
PERFORMANCE_MIN_AVERAGE = 4  # stars, compared exactly: total stars >= 4 x ratings
PERFORMANCE_PERCENT = 5  # of the owner's revenue from the listing in the period
PERFORMANCE_CAP = 100 * UNITS_PER_FTNS
EFFICIENCY_AMOUNT = 10 * UNITS_PER_FTNS
EFFICIENCY_MIN_RETENTION = 0.9
TITLE_CHARS = 60  # of a listing's title in a reason (a reason fits Bonus.reason's 300)


@dataclass(frozen=True)
class BonusDue:
    listing: Listing
    kind: str  # Bonus.Kind
    period: str
    amount: int  # units
    reason: str

    @property
    def dedupe_key(self) -> str:
        return f"bonus:{self.period}:{self.kind}:{self.listing.listing_id}"


@dataclass(frozen=True)
class BonusRun:
    period: str
    paid: list[Bonus] = field(default_factory=list)  # by this run; empty when paid before or refused
    refused: str = ""  # why nothing was paid (the platform's account was short)


# --- Periods


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The period's first instant and the next period's (UTC)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", period)
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"a period is a month written YYYY-MM, not {period!r}")
    year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=dt_timezone.utc)
    return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt_timezone.utc)


def period_before(moment: datetime) -> str:
    """The calendar month (UTC) before the one ``moment`` falls in."""
    first = moment.astimezone(dt_timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return f"{first - timedelta(days=1):%Y-%m}"


# --- The rule


def bonuses_due(*, period: str) -> list[BonusDue]:
    """Every bonus the rule gives for the period, paid or not, in the order they are paid."""
    start, end = period_bounds(period)
    sales = _sales_per_listing(start, end)
    payable = Listing.objects.filter(pk__in=sales, owner__is_active=True).exclude(status=Listing.Status.SUSPENDED)
    listings = {listing.pk: listing for listing in payable.select_related("owner")}
    sales = {pk: count for pk, count in sales.items() if pk in listings}
    due = _performance_due(period, start, end, listings, sales) + _efficiency_due(period, listings.values())
    return sorted(due, key=lambda bonus: (bonus.kind != Bonus.Kind.PERFORMANCE, bonus.listing.pk))


def _sales_per_listing(start: datetime, end: datetime) -> dict[int, int]:
    purchases = Purchase.objects.filter(transaction__created_at__gte=start, transaction__created_at__lt=end,
                                        transaction__reversed_by__isnull=True)
    return dict(purchases.values("listing").annotate(n=Count("pk")).values_list("listing", "n"))


def _performance_due(period: str, start: datetime, end: datetime, listings: dict[int, Listing],
                     sales: dict[int, int]) -> list[BonusDue]:
    often_bought = [pk for pk, count in sales.items() if count >= PERFORMANCE_MIN_SALES]
    # the stars as they stood when the period ended: a rating changed since is left out (its old stars are gone)
    ratings = (Rating.objects.filter(listing__in=often_bought, created_at__lt=end)
               .filter(Q(updated_at__isnull=True) | Q(updated_at__lt=end)).values("listing")
               .annotate(n=Count("pk"), stars=Sum("stars")).values_list("listing", "n", "stars"))
    well_rated = {pk: (n, stars) for pk, n, stars in ratings
                  if n >= PERFORMANCE_MIN_RATINGS and stars >= PERFORMANCE_MIN_AVERAGE * n}
    revenue = _owner_revenue([listings[pk] for pk in well_rated], start, end)
    due = []
    for pk, (n, stars) in well_rated.items():
        listing, earned = listings[pk], revenue.get(pk, 0)
        amount = min(earned * PERFORMANCE_PERCENT // 100, PERFORMANCE_CAP)
        if amount > 0:
            reason = (f"Performance bonus for {period}: {_title(listing)} sold {sales[pk]} times, rated {stars / n:.1f} "
                      f"from {n} ratings; {PERFORMANCE_PERCENT}% of the {display_ftns(earned)} FTNS it earned you"
                      f"{' (capped)' if amount == PERFORMANCE_CAP else ''}")
            due.append(BonusDue(listing=listing, kind=Bonus.Kind.PERFORMANCE, period=period, amount=amount, reason=reason))
    return due


def _owner_revenue(listings: list[Listing], start: datetime, end: datetime) -> dict[int, int]:
    """What the ledger credited each listing's owner for it in the period (sales net of their reversals)."""
    by_reference = {listing_reference(listing): listing for listing in listings}
    entries = (Entry.objects.filter(account__kind=Account.Kind.WALLET, transaction__reference__in=list(by_reference),
                                    transaction__kind__in=[Transaction.Kind.SALE, Transaction.Kind.REVERSAL],
                                    transaction__created_at__gte=start, transaction__created_at__lt=end)
               .values("transaction__reference", "account__user").annotate(total=Sum("amount"))
               .values_list("transaction__reference", "account__user", "total"))
    return {by_reference[ref].pk: total for ref, user, total in entries if by_reference[ref].owner_id == user}


def _efficiency_due(period: str, listings) -> list[BonusDue]:
    """The best listing per category (ties: the one listed first)."""
    best: dict[str, Listing] = {}
    candidates = [listing for listing in listings if listing.retention is not None and listing.compression
                  and listing.compression > 0 and listing.retention >= EFFICIENCY_MIN_RETENTION]
    for listing in sorted(candidates, key=lambda lst: (-lst.retention * lst.compression, lst.created_at, lst.pk)):
        best.setdefault(listing.category, listing)
    return [BonusDue(listing=listing, kind=Bonus.Kind.EFFICIENCY, period=period, amount=EFFICIENCY_AMOUNT,
                     reason=f"Efficiency bonus for {period}: {_title(listing)} keeps the most quality per parameter in "
                            f"{listing.category or 'uncategorised models'}: {listing.retention:.0%} retention at "
                            f"{listing.compression:.1f}x compression")
            for listing in best.values()]


def _title(listing: Listing) -> str:
    title = listing.title if len(listing.title) <= TITLE_CHARS else listing.title[:TITLE_CHARS - 1] + "…"
    return f"“{title}”"


# --- Paying


@transaction.atomic
def bonuses_pay(*, period: str) -> BonusRun:
    """Pay the finished period's bonuses that are not paid yet, all or none; a second run (or one racing
    this) pays nothing again: the ledger's dedupe keys and ``Bonus``'s unique constraint both hold."""
    if period_bounds(period)[1] > clock.now():
        raise ValueError(f"the period {period} has not ended yet")
    outstanding = [due for due in bonuses_due(period=period) if not _recorded(due)]
    if not outstanding:
        return BonusRun(period=period)
    payments = [ledger.BonusPayment(recipient=due.listing.owner, amount=due.amount, reason=due.reason,
                                    reference=listing_reference(due.listing), dedupe_key=due.dedupe_key)
                for due in outstanding]
    try:
        transactions = ledger.ledger_bonuses_post(payments=payments)
    except InsufficientFunds as exc:
        log.warning("bonuses for %s not paid: %s", period, exc.message, extra={"period": period})
        return BonusRun(period=period, refused=exc.message)
    paid = [_bonus_record(due, txn) for due, txn in zip(outstanding, transactions)]
    log.info("bonuses for %s: %d paid", period, sum(1 for bonus in paid if bonus), extra={"period": period})
    return BonusRun(period=period, paid=[bonus for bonus in paid if bonus])


def _recorded(due: BonusDue) -> bool:
    return Bonus.objects.filter(listing=due.listing, kind=due.kind, period=due.period).exists()


def _bonus_record(due: BonusDue, txn: Transaction) -> Bonus | None:
    """Keep the bonus and tell its owner; None when a run racing this one recorded it first."""
    if Bonus.objects.filter(transaction=txn).exists():
        return None
    bonus = Bonus(listing=due.listing, kind=due.kind, period=due.period, amount=due.amount, reason=due.reason,
                  transaction=txn)
    bonus.full_clean()
    bonus.save()
    notification_send(user=due.listing.owner, kind="bonus_paid", link=f"{reverse('ledger:statement')}?kind=bonus",
                      message=f"You were paid a {display_ftns(due.amount)} FTNS bonus. {due.reason}.")
    return bonus
