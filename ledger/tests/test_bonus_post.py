"""Bonuses through the ledger: from the platform's revenue account to a wallet, once per key, all or none,
never more than the platform's account holds."""

import pytest
from django.core.exceptions import ValidationError

from ledger import selectors, services
from ledger.errors import InsufficientFunds
from ledger.models import Account, Transaction
from ledger.services import BonusPayment

from .factories import UserFactory, fund, ftns

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform_with_10_ftns():
    buyer, creator = UserFactory(), UserFactory()
    fund(buyer, 100)
    services.ledger_sale_post(buyer=buyer, creator=creator, price=ftns(100), reference="listing:x")
    platform = services.system_account(Account.Kind.PLATFORM_REVENUE)
    assert platform.balance == ftns(10)
    return platform


def payment(user, amount, key, reason="Performance bonus for 2026-11") -> BonusPayment:
    return BonusPayment(recipient=user, amount=amount, reason=reason, reference="listing:x", dedupe_key=key)


def test_a_bonus_moves_units_from_the_platform_to_the_wallet_once_per_key(platform_with_10_ftns):
    seller = UserFactory()
    first = services.ledger_bonus_post(recipient=seller, amount=1_234_567, reason="Performance bonus for 2026-11",
                                       reference="listing:x", dedupe_key="bonus:2026-11:performance:x")
    again = services.ledger_bonus_post(recipient=seller, amount=1_234_567, reason="Performance bonus for 2026-11",
                                       reference="listing:x", dedupe_key="bonus:2026-11:performance:x")

    assert again.pk == first.pk and first.kind == Transaction.Kind.BONUS
    assert (first.memo, first.reference) == ("Performance bonus for 2026-11", "listing:x")
    assert selectors.wallet_balance(user=seller) == 1_234_567
    platform_with_10_ftns.refresh_from_db()
    assert platform_with_10_ftns.balance == ftns(10) - 1_234_567


def test_more_than_the_platform_holds_is_refused_with_a_clear_error(platform_with_10_ftns):
    with pytest.raises(InsufficientFunds, match=r"holds 10\.00 FTNS, less than the 10\.000001 FTNS of bonuses due"):
        services.ledger_bonus_post(recipient=UserFactory(), amount=ftns(10) + 1, reason="Efficiency bonus",
                                   reference="listing:x", dedupe_key="bonus:too-much")
    assert not Transaction.objects.filter(kind=Transaction.Kind.BONUS).exists()


def test_a_batch_is_paid_all_or_none(platform_with_10_ftns):
    ada, bo = UserFactory(), UserFactory()
    with pytest.raises(InsufficientFunds):
        services.ledger_bonuses_post(payments=[payment(ada, ftns(6), "a"), payment(bo, ftns(5), "b")])
    assert not Transaction.objects.filter(kind=Transaction.Kind.BONUS).exists()

    services.ledger_bonuses_post(payments=[payment(ada, ftns(6), "a"), payment(bo, ftns(4), "b")])

    assert (selectors.wallet_balance(user=ada), selectors.wallet_balance(user=bo)) == (ftns(6), ftns(4))


def test_a_bonus_already_paid_is_not_refused_when_the_platform_has_since_run_dry(platform_with_10_ftns):
    seller = UserFactory()
    paid = services.ledger_bonuses_post(payments=[payment(seller, ftns(10), "a")])

    assert services.ledger_bonuses_post(payments=[payment(seller, ftns(10), "a")]) == paid
    assert selectors.wallet_balance(user=seller) == ftns(10)


@pytest.mark.parametrize("amount, reason", [(0, "a reason"), (-5, "a reason"), (1.5, "a reason"), (5, "  ")])
def test_a_bonus_needs_a_positive_whole_amount_and_a_reason(platform_with_10_ftns, amount, reason):
    with pytest.raises(ValidationError):
        services.ledger_bonus_post(recipient=UserFactory(), amount=amount, reason=reason, reference="listing:x",
                                   dedupe_key="k")
    assert not Transaction.objects.filter(kind=Transaction.Kind.BONUS).exists()
