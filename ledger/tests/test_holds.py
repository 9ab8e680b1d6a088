import pytest

from ledger import pricing, selectors, services
from ledger.errors import BudgetExceeded, HoldConflict, HoldNotFound, InsufficientFunds
from ledger.models import Account, Hold, Transaction

from .factories import UserFactory, fund, ftns

pytestmark = pytest.mark.django_db


def platform(kind=Account.Kind.PLATFORM_REVENUE) -> int:
    return services.system_account(kind).balance


@pytest.fixture
def user():
    user = UserFactory()
    fund(user, 1000)
    return user


def test_a_hold_moves_the_estimate_into_escrow(user):
    estimate = pricing.job_cost(teachers=1, compute_hours=2, validation_suites=1).total  # 230 FTNS
    hold = services.hold_place(user=user, reference="job-1", amount=estimate, budget=ftns(1000))
    assert hold.state == Hold.State.OPEN
    assert selectors.wallet_balance(user=user) == ftns(770)
    assert selectors.wallet_held(user=user) == ftns(230)
    assert platform(Account.Kind.HOLDS) == ftns(230)


def test_a_hold_is_never_more_than_the_budget(user):
    with pytest.raises(BudgetExceeded):
        services.hold_place(user=user, reference="job-1", amount=ftns(101), budget=ftns(100))


def test_a_hold_needs_the_funds(user):
    with pytest.raises(InsufficientFunds):
        services.hold_place(user=user, reference="job-1", amount=ftns(1001), budget=ftns(2000))
    assert not Hold.objects.exists()


def test_placing_the_same_hold_twice_holds_once_and_a_different_one_is_refused(user):
    first = services.hold_place(user=user, reference="job-1", amount=ftns(200), budget=ftns(300))
    assert services.hold_place(user=user, reference="job-1", amount=ftns(200), budget=ftns(300)) == first
    with pytest.raises(HoldConflict):
        services.hold_place(user=user, reference="job-1", amount=ftns(250), budget=ftns(300))
    assert selectors.wallet_balance(user=user) == ftns(800)


def test_settling_charges_the_actual_cost_pays_teacher_owners_and_releases_the_rest(user):
    teacher_owner = UserFactory()
    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))
    cost = pricing.job_cost(teachers=2, compute_hours=1, validation_suites=1)  # 100 + 2*50 + 25 + 30 = 255
    hold = services.hold_settle(reference="job-1", cost=cost, teacher_owners=[teacher_owner, None])
    assert (hold.state, hold.charged, hold.released) == (Hold.State.SETTLED, ftns(255), ftns(45))
    assert selectors.wallet_balance(user=user) == ftns(745)
    assert selectors.wallet_balance(user=teacher_owner) == ftns(50)
    assert platform(Account.Kind.CATALOG_TEACHERS) == ftns(50)
    assert platform() == ftns(155)
    assert platform(Account.Kind.HOLDS) == 0


def test_a_settlement_delivered_twice_settles_once(user):
    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))
    cost = pricing.job_cost(teachers=0, compute_hours=1, validation_suites=0)
    first = services.hold_settle(reference="job-1", cost=cost, teacher_owners=[])
    second = services.hold_settle(reference="job-1", cost=cost, teacher_owners=[])
    assert first.close_transaction_id == second.close_transaction_id
    assert Transaction.objects.filter(kind=Transaction.Kind.SETTLE).count() == 1
    assert selectors.wallet_balance(user=user) == ftns(875)


def test_the_charge_never_exceeds_the_hold_and_teachers_are_paid_before_the_platform(user):
    owner = UserFactory()
    services.hold_place(user=user, reference="job-1", amount=ftns(160), budget=ftns(160))
    cost = pricing.job_cost(teachers=1, compute_hours=10, validation_suites=1)  # 430 FTNS, over the hold
    hold = services.hold_settle(reference="job-1", cost=cost, teacher_owners=[owner])
    assert (hold.charged, hold.released) == (ftns(160), 0)
    assert selectors.wallet_balance(user=owner) == ftns(50)
    assert platform() == ftns(110)


def test_releasing_returns_the_whole_hold_once(user):
    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))
    services.hold_release(reference="job-1")
    hold = services.hold_release(reference="job-1")
    assert (hold.state, hold.released) == (Hold.State.RELEASED, ftns(300))
    assert selectors.wallet_balance(user=user) == ftns(1000)


def test_a_platform_failure_refunds_everything(user):
    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))
    hold = services.hold_refund(reference="job-1")
    assert hold.close_transaction.kind == Transaction.Kind.REFUND
    assert selectors.wallet_balance(user=user) == ftns(1000)


@pytest.mark.parametrize("close_first, then", [
    ("hold_release", "hold_refund"), ("hold_refund", "hold_release"), ("hold_release", "hold_settle"),
])
def test_a_closed_hold_cannot_be_closed_another_way(user, close_first, then):
    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))
    getattr(services, close_first)(reference="job-1")
    kwargs = {"cost": pricing.job_cost(teachers=0, compute_hours=0, validation_suites=0), "teacher_owners": []}
    with pytest.raises(HoldConflict):
        getattr(services, then)(reference="job-1", **(kwargs if then == "hold_settle" else {}))
    assert selectors.wallet_balance(user=user) == ftns(1000)


def test_closing_an_unknown_hold_is_refused():
    with pytest.raises(HoldNotFound):
        services.hold_release(reference="nope")


def test_the_database_allows_one_closing_transaction_per_hold(user):
    """Even if the state check were skipped, the unique dedupe key stops a second close."""
    from django.db import IntegrityError, transaction

    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))
    hold = services.hold_release(reference="job-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.create(kind=Transaction.Kind.REFUND, dedupe_key=f"hold:{hold.reference}:close")
