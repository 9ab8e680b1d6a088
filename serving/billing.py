"""Metered usage billed in batches (docs/SERVING.md, "Metering and billing").

Every prediction call leaves a ``Prediction`` row with the listing's ``price_per_1k_predictions`` at the
time (0 for the owner's own calls and for free tries). A billing run (``usage_bills_run``, every ten
minutes from serving/tasks.py) gathers the unbilled priced rows per (caller, deployment) and, for each
group in one transaction with the rows locked:

- adds inputs x price per 1,000 in thousandths of a unit, plus what the caller's previous bill for that
  deployment carried;
- charges the whole units of it (``ledger_usage_post``: the caller's wallet, split 70/20/10 like a sale),
  once per bill's dedupe key (a bill is named by its first row, which only that bill can hold);
- marks the rows billed and keeps the thousandths left over as ``carry_milli`` for the next bill. A bill
  under one unit posts no transaction and still marks its rows (the carry keeps the money).

A caller whose wallet cannot pay gets no bill: the rows stay unbilled for the next run and the caller is
in arrears (``caller_in_arrears``), which stops their priced calls until the wallet covers what is owed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from core import clock
from ledger import selectors as ledger_selectors
from ledger import services as ledger
from ledger.errors import InsufficientFunds
from marketplace.models import Listing
from marketplace.selectors import listing_reference
from marketplace.services import listing_revenue_parties

from .models import Prediction, UsageBill
from .throttles import grants_changed

log = logging.getLogger("prsm.serving.billing")

MILLI = 1000  # price_per_1k is units per 1,000 inputs: inputs x price is thousandths of a unit
TITLE_CHARS = 80  # of a listing's title in a statement line
ARREARS_TIMEOUT_S = 7 * 24 * 3600  # the next run (ten minutes) writes it again while still unpaid


class UsageUnpaid(Exception):
    def __init__(self, caller_id: int, amount: int):
        super().__init__(f"caller {caller_id} cannot pay {amount} units")
        self.caller_id, self.amount = caller_id, amount


def _unbilled(**filters):
    return Prediction.objects.filter(bill__isnull=True, price_per_1k__gt=0, **filters)


def usage_bills_run(now: datetime | None = None) -> list[UsageBill]:
    """Bill every (caller, deployment) with unbilled priced predictions made up to ``now``; the bills made.
    Safe to run again, and beside another run: a group already billed has no unbilled rows left."""
    now = now or clock.now()
    groups = (_unbilled(created_at__lte=now).order_by("caller_id", "deployment_id")
              .values_list("caller_id", "deployment_id").distinct())
    bills, owed, callers = [], defaultdict(int), set()
    for caller_id, deployment_id in list(groups):
        callers.add(caller_id)
        try:
            bill = usage_bill_make(caller_id=caller_id, deployment_id=deployment_id, now=now)
        except UsageUnpaid as unpaid:
            owed[caller_id] += unpaid.amount
            continue
        except ValidationError as error:  # a row no bill can take (the owner priced): logged, the others go on
            log.error("usage bill of caller %s for deployment %s refused: %s", caller_id, deployment_id, error)
            continue
        if bill is not None:
            bills.append(bill)
    for caller_id in callers:
        _arrears_set(caller_id, owed.get(caller_id, 0))
    return bills


@transaction.atomic
def usage_bill_make(*, caller_id: int, deployment_id: int, now: datetime) -> UsageBill | None:
    """Bill one caller's unbilled priced predictions of one deployment (made up to ``now``); None when there
    are none (another run billed them). ``UsageUnpaid`` (nothing billed) when the wallet cannot pay."""
    _group_lock(caller_id, deployment_id)
    rows = list(_unbilled(caller_id=caller_id, deployment_id=deployment_id, created_at__lte=now).order_by("pk")
                .select_for_update(skip_locked=connection.vendor == "postgresql").only("pk", "inputs", "price_per_1k"))
    if not rows:
        return None
    previous = UsageBill.objects.filter(caller_id=caller_id, deployment_id=deployment_id).order_by("-pk").first()
    total_milli = sum(row.inputs * row.price_per_1k for row in rows) + (previous.carry_milli if previous else 0)
    amount, carry = divmod(total_milli, MILLI)
    inputs = sum(row.inputs for row in rows)
    bill = UsageBill(caller_id=caller_id, deployment_id=deployment_id, predictions_count=inputs, amount=amount,
                     carry_milli=carry, created_at=now)
    if amount > 0:
        bill.transaction = _charge(caller_id, deployment_id, amount=amount, inputs=inputs,
                                   dedupe_key=f"usage:{caller_id}:{deployment_id}:{rows[0].pk}")
        if (billed := UsageBill.objects.filter(transaction=bill.transaction).first()) is not None:
            return billed  # this bill was made before (a retried run): charged once
    bill.full_clean()
    bill.save()
    Prediction.objects.filter(pk__in=[row.pk for row in rows]).update(bill=bill)
    return bill


def _charge(caller_id: int, deployment_id: int, *, amount: int, inputs: int, dedupe_key: str):
    listing = Listing.objects.select_related("owner", "deployment__job").get(deployment_id=deployment_id)
    caller = get_user_model().objects.get(pk=caller_id)
    try:
        return ledger.ledger_usage_post(caller=caller, amount=amount, reference=listing_reference(listing),
                                        memo=usage_description(listing.title, inputs), dedupe_key=dedupe_key,
                                        **listing_revenue_parties(listing=listing))
    except InsufficientFunds:
        raise UsageUnpaid(caller_id, amount) from None


def usage_description(title: str, inputs: int) -> str:
    """The statement's line for a bill: "Predictions of <listing title>: 1,234 inputs"."""
    title = title if len(title) <= TITLE_CHARS else title[:TITLE_CHARS - 1] + "…"
    return f"Predictions of {title}: {inputs:,} input{'' if inputs == 1 else 's'}"


def _group_lock(caller_id: int, deployment_id: int) -> None:
    """One bill at a time per (caller, deployment), so two runs cannot both read the same carry. SQLite runs
    one writing transaction at a time; PostgreSQL takes a lock on the pair until the commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"usage-bill:{caller_id}:{deployment_id}"])


# --- Arrears: a caller whose last run could not be paid


def _arrears_key(user_id: int) -> str:
    return f"serving:usage-arrears:{user_id}"


def _arrears_set(caller_id: int, owed: int) -> None:
    was = bool(cache.get(_arrears_key(caller_id)))
    if owed > 0:
        cache.set(_arrears_key(caller_id), owed, timeout=ARREARS_TIMEOUT_S)
    else:
        cache.delete(_arrears_key(caller_id))
    if was != (owed > 0):
        grants_changed()  # the predict route's kept grants hold the caller's arrears (fast_path.py)


def caller_in_arrears(user) -> bool:
    """Whether the last billing run could not charge this user, and their wallet still holds less than it
    tried to charge (a deposit lifts it at once, before the next run bills it)."""
    owed = cache.get(_arrears_key(user.pk))
    if not owed:
        return False
    wallet = ledger_selectors.wallet_get(user=user)  # the wallet alone: promotional credit never pays usage
    return (wallet.balance if wallet else 0) < owed
