"""Metering bills (serving/billing.py): unbilled priced predictions are charged per (caller, deployment) in
exact integer units with the carry of what falls below one unit, split 70/20/10 like a sale, once however
often a run is retried; a caller who cannot pay is left unbilled and in arrears. The books balance after
every test (tests/fixtures.py's ``ledger_books_balance``)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from distillation.models import DeployedModel
from ledger import pricing
from ledger import services as ledger
from ledger.models import Account, Transaction
from ledger.selectors import wallet_balance, wallet_entries
from ledger.statements import statement_rows
from ledger.tests.factories import UserFactory, fund
from ledger.tests.support import needs_postgresql, run_at_once
from marketplace import services as marketplace
from marketplace.models import Listing
from marketplace.tests.conftest import completed_job  # noqa: F401 - a fixture
from safety.tests.conftest import catalog_home  # noqa: F401 - a fixture
from serving import billing
from serving.models import Prediction, UsageBill

pytestmark = pytest.mark.django_db

PRICE = 1_234_567  # units per 1,000 inputs (about 1.23 FTNS): every bill leaves a carry


@pytest.fixture
def priced(completed_job):  # noqa: F811 - the fixture imported above
    """A deployed, listed model of ``owner`` at PRICE per 1,000 predictions (a catalog teacher: its 20%
    goes to the catalog teachers' account), and a caller with 100 FTNS in the wallet."""
    owner = UserFactory(username="owner")
    fund(owner, 1000)  # the job's budget hold
    job = completed_job(owner)
    deployment = DeployedModel.objects.create(job=job, artifact=job.artifacts.get(format="onnx"))
    listing = marketplace.listing_create(owner=owner, deployment=deployment, title="Digits classifier",
                                         price_buy=10_000_000, price_rent=None)
    Listing.objects.filter(pk=listing.pk).update(price_per_1k_predictions=PRICE)
    caller = UserFactory(username="caller")
    fund(caller, 100)
    return deployment, owner, caller


def _calls(deployment, caller, *inputs: int, price: int = PRICE, access: str = "buyer", at=None):
    for n in inputs:
        Prediction.objects.create(deployment=deployment, caller=caller, access=access, inputs=n, price_per_1k=price,
                                  created_at=at or timezone.now())


def _usage_transactions():
    return Transaction.objects.filter(kind=Transaction.Kind.USAGE)


def _received(account_code: str, txn: Transaction) -> int:
    return txn.entries.get(account__code=account_code).amount


def test_bills_are_exact_integers_with_the_carry_over_several_runs(priced):
    deployment, owner, caller = priced
    start = wallet_balance(user=caller)

    _calls(deployment, caller, 2, 1)                     # 3 inputs: 3,703,701 thousandths
    first = billing.usage_bills_run()
    _calls(deployment, caller, 5)                        # 6,172,835 + 701 carried
    second = billing.usage_bills_run()
    _calls(deployment, caller, 1000)                     # 1,234,567,000 + 536
    third = billing.usage_bills_run()

    assert [(b.amount, b.carry_milli, b.predictions_count) for b in first + second + third] == [
        (3703, 701, 3), (6173, 536, 5), (1_234_567, 536, 1000)]
    assert wallet_balance(user=caller) == start - 3703 - 6173 - 1_234_567
    assert not Prediction.objects.filter(bill__isnull=True).exists()
    assert _usage_transactions().count() == 3


def test_the_charge_is_split_like_a_sale_and_the_parts_sum_to_it(priced):
    deployment, owner, caller = priced
    owner_before = wallet_balance(user=owner)
    _calls(deployment, caller, 7, 3)

    (bill,) = billing.usage_bills_run()

    split = pricing.revenue_split(price=bill.amount, teacher_weights=[1])
    txn = bill.transaction
    assert bill.amount == 12_345 and bill.carry_milli == 670
    assert _received(f"wallet:{caller.pk}", txn) == -bill.amount
    assert _received(f"wallet:{owner.pk}", txn) == split.creator
    assert _received("platform:catalog-teachers", txn) == split.teachers[0]
    assert _received("platform:revenue", txn) == split.platform
    assert split.creator + sum(split.teachers) + split.platform == bill.amount
    assert (split.creator, split.teachers[0], split.platform) == (8642, 2469, 1234)  # 70/20/10, largest remainder
    assert wallet_balance(user=owner) == owner_before + split.creator


def test_a_bill_under_one_unit_posts_nothing_and_carries_all(priced):
    deployment, owner, caller = priced
    _calls(deployment, caller, 999, price=1)

    (carried,) = billing.usage_bills_run()

    assert (carried.amount, carried.carry_milli, carried.transaction) == (0, 999, None)
    assert not _usage_transactions().exists()
    assert not Prediction.objects.filter(bill__isnull=True).exists()
    _calls(deployment, caller, 1, price=1)
    (paid,) = billing.usage_bills_run()
    assert (paid.amount, paid.carry_milli) == (1, 0) and paid.transaction is not None


def test_free_calls_are_never_billed(priced):
    deployment, owner, caller = priced
    _calls(deployment, owner, 500, price=0, access="owner")
    _calls(deployment, caller, 20, price=0, access="trial")

    assert billing.usage_bills_run() == []
    assert Prediction.objects.filter(bill__isnull=True).count() == 2
    assert not UsageBill.objects.exists()


def test_each_caller_and_deployment_gets_its_own_bill_and_later_calls_wait(priced):
    deployment, owner, caller = priced
    other = UserFactory(username="other")
    fund(other, 10)
    now = timezone.now()
    _calls(deployment, caller, 1000, at=now - timedelta(minutes=1))
    _calls(deployment, other, 2000, at=now - timedelta(minutes=1))
    _calls(deployment, caller, 1000, at=now + timedelta(minutes=1))  # after the run's time: the next run's

    bills = billing.usage_bills_run(now)

    assert sorted((b.caller.username, b.amount) for b in bills) == [("caller", PRICE), ("other", 2 * PRICE)]
    assert Prediction.objects.filter(bill__isnull=True).count() == 1


def test_a_run_retried_at_once_charges_once(priced):
    deployment, owner, caller = priced
    _calls(deployment, caller, 10)

    first, again = billing.usage_bills_run(), billing.usage_bills_run()

    assert len(first) == 1 and again == []
    assert _usage_transactions().count() == 1 and UsageBill.objects.count() == 1


def test_the_ledger_posts_a_usage_charge_once_per_key(priced):
    deployment, owner, caller = priced
    post = dict(caller=caller, creator=owner, amount=1000, teachers=[(None, 1)], memo="Predictions of x: 1 input",
                dedupe_key="usage:test:1")

    first, second = ledger.ledger_usage_post(**post), ledger.ledger_usage_post(**post)

    assert first.pk == second.pk and _usage_transactions().count() == 1


def test_a_caller_who_cannot_pay_stays_unbilled_and_in_arrears_until_the_wallet_covers_it(priced):
    deployment, owner, caller = priced
    poor = UserFactory(username="poor")
    ledger.wallet_signup_grant_post(user=poor)  # promotional credit only: it never pays for usage
    _calls(deployment, poor, 1000)
    _calls(deployment, caller, 1000)

    bills = billing.usage_bills_run()

    assert [b.caller_id for b in bills] == [caller.pk]  # the others are billed all the same
    assert Prediction.objects.filter(caller=poor, bill__isnull=True).count() == 1
    assert not UsageBill.objects.filter(caller=poor).exists()
    assert billing.caller_in_arrears(poor) and not billing.caller_in_arrears(caller)
    fund(poor, 1)  # 1 FTNS: less than the 1.234567 FTNS owed
    assert billing.caller_in_arrears(poor)
    fund(poor, 1)
    assert not billing.caller_in_arrears(poor)  # a deposit lifts it before the next run
    (bill,) = billing.usage_bills_run()
    assert bill.caller_id == poor.pk and bill.amount == PRICE
    assert not billing.caller_in_arrears(poor)
    assert Account.objects.get(code=f"promo:{poor.pk}").balance > 0  # untouched


def test_usage_shows_on_the_statement_page_and_api_with_its_description(priced, client):
    deployment, owner, caller = priced
    _calls(deployment, caller, 1000, 234)
    billing.usage_bills_run()
    description = "Predictions of Digits classifier: 1,234 inputs"

    (row,) = [r for r in statement_rows(wallet_entries(user=caller)) if r.kind == "Model usage (predictions)"]
    assert row.description == description and row.debit == 1_523_455 and row.counterparty
    client.force_login(caller)
    page = client.get("/ledger/").content.decode()
    assert description in page
    api = APIClient()
    api.force_login(owner)
    entries = api.get("/api/v1/ledger/entries/", {"kind": "usage"}).json()["results"]
    assert [(e["kind"], e["memo"]) for e in entries] == [("usage", description)]


def test_the_actor_runs_every_ten_minutes():
    from apscheduler.triggers.cron import CronTrigger
    from dramatiq_crontab import scheduler

    from serving import tasks

    job = next(job for job in scheduler.get_jobs() if job.name == "usage_bills_run")
    assert tasks.USAGE_BILLING_SCHEDULE == "*/10 * * * *"
    assert str(job.trigger) == str(CronTrigger.from_crontab("*/10 * * * *", timezone=job.trigger.timezone))
    assert job.func == tasks.usage_bills_run.send


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_on_postgresql_charge_once(priced):
    deployment, owner, caller = priced
    other = UserFactory(username="other")
    fund(other, 100)
    for n in range(1, 21):
        _calls(deployment, caller, n)
        _calls(deployment, other, n)

    results = run_at_once([billing.usage_bills_run] * 6)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(len(r) for r in results) == 2
    assert _usage_transactions().count() == 2 and UsageBill.objects.count() == 2
    assert not Prediction.objects.filter(bill__isnull=True).exists()
    owed = (210 * PRICE) // 1000
    assert wallet_balance(user=caller) == 100_000_000 - owed and wallet_balance(user=other) == 100_000_000 - owed


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_on_postgresql_carry_once_across_bills(priced):
    deployment, owner, caller = priced
    totals = 0
    for round_ in range(3):
        _calls(deployment, caller, 3 + round_)
        totals += 3 + round_
        run_at_once([billing.usage_bills_run] * 4)

    bills = list(UsageBill.objects.filter(caller=caller).order_by("pk"))
    assert sum(b.amount for b in bills) == (totals * PRICE) // 1000 and bills[-1].carry_milli == (totals * PRICE) % 1000
    assert len(bills) == 3 and _usage_transactions().count() == 3
