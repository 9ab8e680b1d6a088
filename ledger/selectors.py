"""Reads: balances, statements, and the checks that prove the ledger consistent."""

from datetime import datetime

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Window
from django.db.models.functions import Coalesce

from .models import USER_KINDS, Account, Entry, Hold, Transaction


def wallet_get(*, user) -> Account | None:
    return Account.objects.filter(kind=Account.Kind.WALLET, user=user).first()


def wallet_balance(*, user) -> int:
    """What the user may spend on jobs: the wallet and the promotional credit together (cached
    balances; ``ledger_problems`` proves each equals the sum of its entries)."""
    return Account.objects.filter(kind__in=USER_KINDS, user=user).aggregate(total=Coalesce(Sum("balance"), 0))["total"]


def wallet_promo_credit(*, user) -> int:
    """The part of ``wallet_balance`` that is promotional credit: it pays for jobs only."""
    promo = Account.objects.filter(kind=Account.Kind.PROMO, user=user).first()
    return promo.balance if promo else 0


def account_balance(*, account: Account) -> int:
    """The balance derived from entries alone."""
    return account.entries.aggregate(total=Coalesce(Sum("amount"), 0))["total"]


def wallet_held(*, user) -> int:
    """FTNS in escrow for the user's open job holds (already out of the wallet's balance)."""
    return Hold.objects.filter(wallet__user=user, state=Hold.State.OPEN).aggregate(
        total=Coalesce(Sum("amount"), 0)
    )["total"]


def holds_by_reference(*, references) -> dict[str, Hold]:
    """The holds with these references (a job's is ``job:<id>``), in one query."""
    return {hold.reference: hold for hold in Hold.objects.filter(reference__in=list(references))}


def wallet_entries(
    *,
    user,
    kind: str | None = None,
    reference: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    direction: str | None = None,
    oldest_first: bool = False,
) -> QuerySet[Entry]:
    entries = Entry.objects.filter(account__kind__in=USER_KINDS, account__user=user).select_related("transaction", "account")
    if kind:
        entries = entries.filter(transaction__kind=kind)
    if reference:
        entries = entries.filter(transaction__reference=reference)
    if since:
        entries = entries.filter(transaction__created_at__gte=since)
    if until:
        entries = entries.filter(transaction__created_at__lt=until)
    if direction == "credit":
        entries = entries.filter(amount__gt=0)
    elif direction == "debit":
        entries = entries.filter(amount__lt=0)
    return entries.order_by("id" if oldest_first else "-id")


def entry_counterparties(*, entries: list[Entry]) -> dict[int, str]:
    """For each entry, who is on the other side of its transaction: a username or a platform account
    (the entry's owner's other account, wallet or promotional credit, is the same side)."""
    others = (
        Entry.objects.filter(transaction_id__in={e.transaction_id for e in entries})
        .select_related("account__user")
        .order_by("id")
    )
    owners: dict[int, int | None] = {}
    names: dict[int, list[tuple[int, int | None, str]]] = {}
    for other in others:
        label = other.account.user.username if other.account.user_id else other.account.code
        owners[other.account_id] = other.account.user_id
        names.setdefault(other.transaction_id, []).append((other.account_id, other.account.user_id, label))

    def same_side(entry, account_id, user_id) -> bool:
        return account_id == entry.account_id or (user_id is not None and user_id == owners.get(entry.account_id))

    return {
        e.pk: ", ".join(dict.fromkeys(label for account_id, user_id, label in names.get(e.transaction_id, [])
                                      if not same_side(e, account_id, user_id)))
        for e in entries
    }


def ledger_problems() -> list[str]:
    """Everything that would make the books wrong; an empty list means they balance.

    Checks: every transaction has two or more entries summing to zero; every account's cached
    balance equals the sum of its entries, and each entry's balance_after equals the running sum
    up to it; no account but issuance is negative; the holds account holds exactly the open holds.
    """
    problems = []
    unbalanced = (
        Transaction.objects.annotate(total=Coalesce(Sum("entries__amount"), 0), legs=Count("entries"))
        .filter(~Q(total=0) | Q(legs__lt=2))
        .values_list("pk", "total", "legs")
    )
    problems += [f"transaction #{pk}: {legs} entries summing to {total}" for pk, total, legs in unbalanced]

    sums = Entry.objects.filter(account=OuterRef("pk")).values("account").annotate(total=Sum("amount")).values("total")
    drifted = (
        Account.objects.annotate(derived=Coalesce(Subquery(sums), 0))
        .exclude(balance=F("derived"))
        .values_list("code", "balance", "derived")
    )
    problems += [f"account {code}: cached balance {bal} but entries sum to {derived}" for code, bal, derived in drifted]

    running = Entry.objects.annotate(
        running=Window(Sum("amount"), partition_by=[F("account_id")], order_by=F("id").asc())
    ).exclude(running=F("balance_after"))
    problems += [f"entry #{e.pk}: balance_after {e.balance_after} but running sum {e.running}" for e in running]

    negative = Account.objects.filter(balance__lt=0).exclude(kind=Account.Kind.ISSUANCE).values_list("code", flat=True)
    problems += [f"account {code} is negative" for code in negative]

    holds = Account.objects.filter(kind=Account.Kind.HOLDS).values_list("balance", flat=True).first() or 0
    open_holds = Hold.objects.filter(state=Hold.State.OPEN).aggregate(total=Coalesce(Sum("amount"), 0))["total"]
    if holds != open_holds:
        problems.append(f"holds account has {holds} but open holds total {open_holds}")
    return problems
