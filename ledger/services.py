"""Every movement of FTNS goes through this module.

Posting rules (``_post``): a transaction's legs sum to zero; every account it touches is locked
with SELECT ... FOR UPDATE in ascending id order (one global order, so two transfers in opposite
directions cannot deadlock); balances are checked and written under those locks, so concurrent
spends cannot take a wallet below zero. SQLite has no row locks; there the project's IMMEDIATE
transactions serialise writers instead.

Operations that a retry or a redelivered worker message may repeat are exactly-once: they carry
a ``dedupe_key`` that a unique index guards, and holds check their state under a row lock.

Promotional credit (``promo:<user id>``, where the signup grant goes) pays only for the platform's
own work: a job's hold takes it before the wallet, and whatever of it the job does not spend goes
back to it. It is never transferred, never pays for a marketplace sale, and the part of a job's
charge it pays to a teacher's owner reaches that owner as promotional credit too. So accounts made
only to collect the grant cannot funnel it into one account or into purchases (and ratings).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import pricing
from .amounts import UNITS_PER_FTNS, display_ftns
from .errors import BudgetExceeded, HoldConflict, HoldNotFound, InsufficientFunds, NotReversible
from .models import Account, Entry, Hold, Transaction

User = get_user_model()

SYSTEM_ACCOUNTS = {
    Account.Kind.PLATFORM_REVENUE: "platform:revenue",
    Account.Kind.HOLDS: "platform:holds",
    Account.Kind.CATALOG_TEACHERS: "platform:catalog-teachers",
    Account.Kind.ISSUANCE: "platform:issuance",
}
REVERSIBLE_KINDS = {
    Transaction.Kind.SIGNUP_GRANT,
    Transaction.Kind.GRANT,
    Transaction.Kind.DEPOSIT,
    Transaction.Kind.TRANSFER,
    Transaction.Kind.SALE,
}

Legs = Sequence[tuple[Account, int]]


# --- Accounts


def wallet_open(*, user: User) -> Account:
    wallet, _ = Account.objects.get_or_create(
        code=f"wallet:{user.pk}", defaults={"kind": Account.Kind.WALLET, "user": user}
    )
    return wallet


def promo_open(*, user: User) -> Account:
    promo, _ = Account.objects.get_or_create(code=f"promo:{user.pk}", defaults={"kind": Account.Kind.PROMO, "user": user})
    return promo


def promo_get(*, user: User) -> Account | None:
    return Account.objects.filter(code=f"promo:{user.pk}").first()


def system_account(kind: Account.Kind) -> Account:
    account, _ = Account.objects.get_or_create(code=SYSTEM_ACCOUNTS[kind], defaults={"kind": kind})
    return account


def teacher_owner_account(*, owner: User | None) -> Account:
    """A teacher's owner is paid into their wallet; catalog teachers (no owner) into the platform's account."""
    return system_account(Account.Kind.CATALOG_TEACHERS) if owner is None else wallet_open(user=owner)


# --- Posting


@transaction.atomic
def _post(
    *,
    kind: Transaction.Kind,
    legs: Legs,
    memo: str = "",
    reference: str = "",
    created_by: User | None = None,
    dedupe_key: str | None = None,
    reverses: Transaction | None = None,
) -> Transaction:
    amounts: dict[int, int] = defaultdict(int)
    for account, amount in legs:
        if not isinstance(amount, int):
            raise TypeError(f"amounts are integer units, got {amount!r}")
        amounts[account.pk] += amount
    amounts = {account_id: amount for account_id, amount in amounts.items() if amount}
    if sum(amounts.values()) != 0 or len(amounts) < 2:
        raise ValueError(f"a transaction needs two or more legs that sum to zero, got {dict(amounts)}")

    accounts = _lock(amounts)
    for account in accounts:
        account.balance += amounts[account.pk]
        if account.balance < 0 and account.kind != Account.Kind.ISSUANCE:
            whose = "The wallet" if account.kind == Account.Kind.WALLET else f"Account {account.code}"
            short = display_ftns(-account.balance)
            raise InsufficientFunds(f"{whose} is short of {short} FTNS for this {Transaction.Kind(kind).label.lower()}.")

    txn = Transaction(
        kind=kind, memo=memo, reference=reference, created_by=created_by, dedupe_key=dedupe_key, reverses=reverses
    )
    # the database holds the unique keys and the constraints (an IntegrityError, which the callers that
    # can race catch in a savepoint); checking them here too cost a query each on every posting
    txn.full_clean(validate_unique=False, validate_constraints=False)
    txn.save()
    Entry.objects.bulk_create(
        Entry(transaction=txn, account=account, amount=amounts[account.pk], balance_after=account.balance)
        for account in accounts
    )
    Account.objects.bulk_update(accounts, ["balance"])
    return txn


@transaction.atomic
def _post_once(*, dedupe_key: str, legs: Legs, **posting) -> Transaction:
    """Post unless a transaction with this key exists; a racing duplicate gets the winner's transaction.

    The accounts are locked before the look-up, so a duplicate racing the first waits for it and
    then finds it, rather than finding the money already gone.
    """
    _lock({account.pk for account, _ in legs})
    if existing := Transaction.objects.filter(dedupe_key=dedupe_key).first():
        return existing
    try:
        with transaction.atomic():
            return _post(dedupe_key=dedupe_key, legs=legs, **posting)
    except (IntegrityError, ValidationError):
        if existing := Transaction.objects.filter(dedupe_key=dedupe_key).first():
            return existing
        raise


def _lock(account_ids) -> list[Account]:
    """Lock accounts in ascending id order, the one order every transaction uses."""
    return list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk"))


def _positive(amount: int, field: str = "amount") -> None:
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationError({field: "Amounts are a positive whole number of units."})


# --- Grants, deposits, transfers, reversals


@transaction.atomic
def wallet_signup_grant_post(*, user: User) -> Account:
    """Open the user's wallet and credit the signup grant as promotional credit, once per user
    however often it is called."""
    wallet = wallet_open(user=user)
    amount = settings.LEDGER_SIGNUP_GRANT * UNITS_PER_FTNS
    if amount > 0:
        issuance = system_account(Account.Kind.ISSUANCE)
        _post_once(kind=Transaction.Kind.SIGNUP_GRANT, legs=[(issuance, -amount), (promo_open(user=user), amount)],
                   memo="Welcome grant (promotional credit for distillation jobs)", dedupe_key=f"signup:{user.pk}")
    return wallet


def _wallet_only(user: User, posting):
    """Run a wallet-only posting; a refusal for want of funds says why promotional credit did not count."""
    try:
        return posting()
    except InsufficientFunds as exc:
        promo = promo_get(user=user)
        if promo is None or promo.balance <= 0:
            raise
        raise InsufficientFunds(f"{exc.message} Promotional credit ({display_ftns(promo.balance)} FTNS) pays only "
                                "for distillation jobs: it cannot be transferred or buy models.") from None


@transaction.atomic
def ledger_grant_post(*, staff: User, user: User, amount: int, reason: str) -> Transaction:
    _positive(amount)
    if not staff.is_staff:
        raise ValidationError("Only staff may grant FTNS.")
    if not reason.strip():
        raise ValidationError({"reason": "A grant needs a reason."})
    issuance = system_account(Account.Kind.ISSUANCE)
    return _post(kind=Transaction.Kind.GRANT, legs=[(issuance, -amount), (wallet_open(user=user), amount)],
                 memo=reason.strip(), created_by=staff)


@transaction.atomic
def ledger_deposit_post(*, user: User, amount: int, external_reference: str) -> Transaction:
    """FTNS bought from outside (a payment provider); the provider's reference makes it exactly-once."""
    _positive(amount)
    issuance = system_account(Account.Kind.ISSUANCE)
    return _post_once(kind=Transaction.Kind.DEPOSIT, legs=[(issuance, -amount), (wallet_open(user=user), amount)],
                      reference=external_reference, dedupe_key=f"deposit:{external_reference}", memo="Deposit")


@transaction.atomic
def ledger_transfer_post(*, sender: User, recipient: User, amount: int, memo: str = "") -> Transaction:
    _positive(amount)
    if sender.pk == recipient.pk:
        raise ValidationError({"to": "You cannot transfer FTNS to yourself."})
    legs = [(wallet_open(user=sender), -amount), (wallet_open(user=recipient), amount)]
    return _wallet_only(sender, lambda: _post(kind=Transaction.Kind.TRANSFER, legs=legs, memo=memo, created_by=sender))


@transaction.atomic
def ledger_transaction_reverse(*, staff: User, original: Transaction, reason: str) -> Transaction:
    """Post the mirror image of a transaction. Holds are closed by their own operations instead."""
    if original.kind not in REVERSIBLE_KINDS:
        raise NotReversible(f"A {original.get_kind_display().lower()} cannot be reversed; use its hold's operations.")
    if Transaction.objects.filter(reverses=original).exists():
        raise NotReversible(f"Transaction #{original.pk} is already reversed.")
    legs = [(entry.account, -entry.amount) for entry in original.entries.select_related("account")]
    return _post(kind=Transaction.Kind.REVERSAL, legs=legs, memo=reason, reference=original.reference,
                 created_by=staff, reverses=original)


# --- Job budget holds


@transaction.atomic
def hold_place(*, user: User, reference: str, amount: int, budget: int, memo: str = "") -> Hold:
    """Move a job's estimate into escrow, promotional credit first, then the wallet. Placing the same
    hold again returns it unchanged."""
    _positive(amount)
    if amount > budget:
        raise BudgetExceeded(f"The estimate ({display_ftns(amount)} FTNS) is over the budget ({display_ftns(budget)} FTNS).",
                             field="budget_ftns")
    wallet, holds, promo = wallet_open(user=user), system_account(Account.Kind.HOLDS), promo_get(user=user)
    # Take _post's locks now (same accounts, same order): a placement racing this one for the same
    # job then finds the hold here instead of finding the wallet already charged for it.
    locked = {account.pk: account for account in _lock([wallet.pk, holds.pk] + ([promo.pk] if promo else []))}
    if existing := Hold.objects.filter(reference=reference).first():
        return _same_hold(existing, user=user, amount=amount)
    from_promo = min(locked[promo.pk].balance, amount) if promo else 0
    legs = [(wallet, from_promo - amount), (holds, amount)] + ([(promo, -from_promo)] if promo else [])
    try:
        with transaction.atomic():
            txn = _post(kind=Transaction.Kind.HOLD, legs=legs,
                        reference=reference, memo=memo or f"Budget held for {reference}",
                        dedupe_key=f"hold:{reference}:place", created_by=user)
            hold = Hold(reference=reference, wallet=wallet, amount=amount, budget=budget, place_transaction=txn)
            hold.full_clean(validate_unique=False, validate_constraints=False)  # the database's, caught below
            hold.save()
    except (IntegrityError, ValidationError):  # the same hold placed at the same moment by another worker
        if existing := Hold.objects.filter(reference=reference).first():
            return _same_hold(existing, user=user, amount=amount)
        raise
    return hold


def _same_hold(hold: Hold, *, user: User, amount: int) -> Hold:
    if hold.wallet.user_id != user.pk or hold.amount != amount:
        raise HoldConflict(f"A different hold already exists for {hold.reference}.")
    return hold


def _hold_for_closing(reference: str, state: Hold.State) -> Hold | None:
    """The open hold, locked; None when this very operation already closed it (a redelivery)."""
    hold = Hold.objects.select_for_update().filter(reference=reference).first()
    if hold is None:
        raise HoldNotFound(f"No hold for {reference}.")
    if hold.state == Hold.State.OPEN:
        return hold
    if hold.state == state:
        return None
    raise HoldConflict(f"The hold for {reference} is already {hold.state}.")


def _hold_promo(hold: Hold) -> tuple[Account | None, int]:
    """The promotional credit account that paid into this hold, and how much it paid (from the
    placing transaction's entries, which never change)."""
    entry = hold.place_transaction.entries.select_related("account").filter(account__kind=Account.Kind.PROMO).first()
    return (entry.account, -entry.amount) if entry else (None, 0)


def _hold_back(hold: Hold, *, charged_to_promo: int, charged_to_wallet: int) -> list[tuple[Account, int]]:
    """The legs returning what the charge left of the hold to where it came from."""
    promo, from_promo = _hold_promo(hold)
    legs = [(hold.wallet, hold.amount - from_promo - charged_to_wallet)]
    return legs + ([(promo, from_promo - charged_to_promo)] if promo else [])


def _hold_close(hold: Hold, *, state: Hold.State, kind: Transaction.Kind, legs: Legs, charged: int, memo: str) -> Hold:
    legs = [(system_account(Account.Kind.HOLDS), -hold.amount), *legs]
    hold.close_transaction = _post(kind=kind, legs=legs, reference=hold.reference, memo=memo,
                                   dedupe_key=f"hold:{hold.reference}:close")
    hold.state, hold.charged, hold.released, hold.closed_at = state, charged, hold.amount - charged, timezone.now()
    hold.full_clean()
    hold.save()
    return hold


@transaction.atomic
def hold_settle(*, reference: str, cost: pricing.JobCost, teacher_owners: Sequence[User | None]) -> Hold:
    """Charge a finished (or cancelled) job's actual cost and release the rest of its hold.

    The charge never exceeds the hold. Teacher access fees are paid first, to the teachers' owners;
    the base, compute and validation fees go to the platform; what is left returns to where it came
    from. Promotional credit pays the platform's fees first; the part of the teacher fees it pays
    reaches a teacher's owner as promotional credit (catalog teachers are the platform's own).
    """
    if len(teacher_owners) != len(cost.teacher_fees):
        raise ValueError("one teacher owner per teacher fee")
    hold = _hold_for_closing(reference, Hold.State.SETTLED)
    if hold is None:
        return Hold.objects.get(reference=reference)
    charge = min(cost.total, hold.amount)
    teacher_total = min(sum(cost.teacher_fees), charge)
    teacher_parts = pricing.apportion(teacher_total, cost.teacher_fees) if cost.teacher_fees and teacher_total else []
    platform_part = charge - teacher_total
    promo_charged = min(_hold_promo(hold)[1], charge)
    promo_to_teachers = max(promo_charged - platform_part, 0)
    promo_parts = pricing.apportion(promo_to_teachers, teacher_parts) if promo_to_teachers else [0] * len(teacher_parts)
    legs = [leg for owner, part, promo_part in zip(teacher_owners, teacher_parts, promo_parts)
            for leg in _teacher_fee_legs(owner, part, promo_part)]
    legs += [(system_account(Account.Kind.PLATFORM_REVENUE), platform_part),
             *_hold_back(hold, charged_to_promo=promo_charged, charged_to_wallet=charge - promo_charged)]
    memo = f"{reference}: charged {display_ftns(charge)} FTNS, released {display_ftns(hold.amount - charge)} FTNS"
    return _hold_close(hold, state=Hold.State.SETTLED, kind=Transaction.Kind.SETTLE, legs=legs, charged=charge, memo=memo)


def _teacher_fee_legs(owner: User | None, part: int, promo_part: int) -> list[tuple[Account, int]]:
    if owner is None:  # a catalog teacher: the platform's own account, whatever paid
        return [(teacher_owner_account(owner=None), part)]
    return [(wallet_open(user=owner), part - promo_part)] + ([(promo_open(user=owner), promo_part)] if promo_part else [])


@transaction.atomic
def hold_release(*, reference: str) -> Hold:
    """Return the whole hold to where it came from (a job cancelled before it used anything)."""
    hold = _hold_for_closing(reference, Hold.State.RELEASED)
    if hold is None:
        return Hold.objects.get(reference=reference)
    return _hold_close(hold, state=Hold.State.RELEASED, kind=Transaction.Kind.RELEASE,
                       legs=_hold_back(hold, charged_to_promo=0, charged_to_wallet=0), charged=0,
                       memo=f"{reference}: hold released")


@transaction.atomic
def hold_refund(*, reference: str) -> Hold:
    """Return the whole hold to where it came from because the platform failed the job."""
    hold = _hold_for_closing(reference, Hold.State.REFUNDED)
    if hold is None:
        return Hold.objects.get(reference=reference)
    return _hold_close(hold, state=Hold.State.REFUNDED, kind=Transaction.Kind.REFUND,
                       legs=_hold_back(hold, charged_to_promo=0, charged_to_wallet=0), charged=0,
                       memo=f"{reference}: refunded (platform failure)")


# --- Marketplace sales


def _split_legs(*, payer: User, creator: User, amount: int, teachers, teacher_share) -> list:
    """The payer's wallet pays ``amount``, split per ``pricing.revenue_split`` (a sale's and a usage bill's)."""
    split = pricing.revenue_split(price=amount, teacher_weights=[w for _, w in teachers], teacher_share=teacher_share)
    legs = [(wallet_open(user=payer), -amount), (wallet_open(user=creator), split.creator),
            (system_account(Account.Kind.PLATFORM_REVENUE), split.platform)]
    return legs + [(teacher_owner_account(owner=owner), part) for (owner, _), part in zip(teachers, split.teachers)]


@transaction.atomic
def ledger_sale_post(
    *,
    buyer: User,
    creator: User,
    price: int,
    teachers: Sequence[tuple[User | None, pricing.Weight]] = (),
    teacher_share: pricing.Weight | None = None,
    reference: str = "",
    dedupe_key: str | None = None,
) -> Transaction:
    """Charge the buyer's wallet (never promotional credit) and split the price per
    ``pricing.revenue_split``; ``teachers`` are (owner, weight)."""
    _positive(price, "price")
    if buyer.pk == creator.pk:
        raise ValidationError("A creator cannot buy their own model.")
    legs = _split_legs(payer=buyer, creator=creator, amount=price, teachers=teachers, teacher_share=teacher_share)
    posting = dict(kind=Transaction.Kind.SALE, legs=legs, reference=reference, created_by=buyer,
                   memo=f"Purchase {reference}".strip())
    return _wallet_only(buyer, lambda: _post_once(dedupe_key=dedupe_key, **posting) if dedupe_key else _post(**posting))


# --- Bonuses (marketplace/bonuses.py decides who is paid what; docs/BONUSES.md)


@dataclass(frozen=True)
class BonusPayment:
    recipient: User
    amount: int  # units
    reason: str  # the memo: shown on the recipient's statement
    reference: str
    dedupe_key: str  # one payment per key, however often it is posted


@transaction.atomic
def ledger_bonus_post(*, recipient: User, amount: int, reason: str, reference: str, dedupe_key: str) -> Transaction:
    """Pay one bonus from the platform's revenue account into the recipient's wallet, once per key."""
    payment = BonusPayment(recipient=recipient, amount=amount, reason=reason, reference=reference, dedupe_key=dedupe_key)
    return ledger_bonuses_post(payments=[payment])[0]


@transaction.atomic
def ledger_bonuses_post(*, payments: Sequence[BonusPayment]) -> list[Transaction]:
    """Pay bonuses from the platform's revenue account, all or none: refused (``InsufficientFunds``,
    nothing paid) when the account holds less than the payments not yet posted. A payment whose key
    was posted before returns that transaction and pays nothing again.

    Every account is locked up front in the one global order: locking the wallets one payment at a
    time while holding the platform's account could deadlock with a sale that locks them the other way.
    """
    for payment in payments:
        _positive(payment.amount)
        if not payment.reason.strip():
            raise ValidationError({"reason": "A bonus needs a reason."})
    platform = system_account(Account.Kind.PLATFORM_REVENUE)
    wallets = [wallet_open(user=payment.recipient) for payment in payments]
    locked = {account.pk: account for account in _lock({platform.pk, *(wallet.pk for wallet in wallets)})}
    posted = set(Transaction.objects.filter(dedupe_key__in=[p.dedupe_key for p in payments])
                 .values_list("dedupe_key", flat=True))
    due = sum({p.dedupe_key: p.amount for p in payments if p.dedupe_key not in posted}.values())
    if due > locked[platform.pk].balance:
        raise InsufficientFunds(f"The platform's revenue account holds {display_ftns(locked[platform.pk].balance)} FTNS, "
                                f"less than the {display_ftns(due)} FTNS of bonuses due; none was paid.")
    return [_post_once(kind=Transaction.Kind.BONUS, legs=[(platform, -payment.amount), (wallet, payment.amount)],
                       memo=payment.reason.strip(), reference=payment.reference, dedupe_key=payment.dedupe_key)
            for payment, wallet in zip(payments, wallets)]


# --- Model usage (serving/billing.py bills metered predictions in batches; docs/SERVING.md)


@transaction.atomic
def ledger_usage_post(
    *,
    caller: User,
    creator: User,
    amount: int,
    teachers: Sequence[tuple[User | None, pricing.Weight]] = (),
    teacher_share: pricing.Weight | None = None,
    reference: str = "",
    memo: str = "",
    dedupe_key: str,
) -> Transaction:
    """Charge a caller's wallet (never promotional credit) for a bill of predictions and split it as a sale
    (``pricing.revenue_split``: creator, teachers' owners, platform); once per ``dedupe_key``, so a retried
    billing run charges once. ``teachers`` are (owner, weight)."""
    _positive(amount)
    if caller.pk == creator.pk:
        raise ValidationError("A model's owner calls it free of charge.")
    legs = _split_legs(payer=caller, creator=creator, amount=amount, teachers=teachers, teacher_share=teacher_share)
    return _wallet_only(caller, lambda: _post_once(kind=Transaction.Kind.USAGE, legs=legs, reference=reference,
                                                   created_by=caller, memo=memo.strip(), dedupe_key=dedupe_key))
