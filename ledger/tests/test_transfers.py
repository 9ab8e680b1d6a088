import pytest
from django.core.exceptions import ValidationError

from ledger import selectors, services
from ledger.errors import InsufficientFunds
from ledger.models import Account, Entry, Transaction

from .factories import UserFactory, fund, ftns

pytestmark = pytest.mark.django_db


def test_a_transfer_moves_ftns_between_wallets_with_two_entries_that_sum_to_zero():
    alice, bob = UserFactory(), UserFactory()
    fund(alice, 100)
    txn = services.ledger_transfer_post(sender=alice, recipient=bob, amount=ftns(30), memo="thanks")
    assert selectors.wallet_balance(user=alice) == ftns(70)
    assert selectors.wallet_balance(user=bob) == ftns(30)
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-ftns(30), ftns(30)]


def test_a_transfer_beyond_the_balance_is_refused_and_writes_nothing():
    alice, bob = UserFactory(), UserFactory()
    fund(alice, 10)
    before = Transaction.objects.count()
    with pytest.raises(InsufficientFunds, match="short of 0.000001"):
        services.ledger_transfer_post(sender=alice, recipient=bob, amount=ftns(10) + 1)
    assert Transaction.objects.count() == before
    assert selectors.wallet_balance(user=alice) == ftns(10)


def test_a_wallet_can_be_spent_to_exactly_zero():
    alice, bob = UserFactory(), UserFactory()
    fund(alice, 5)
    services.ledger_transfer_post(sender=alice, recipient=bob, amount=ftns(5))
    assert selectors.wallet_balance(user=alice) == 0


@pytest.mark.parametrize("amount", [0, -5, 1.5])
def test_only_positive_whole_units_can_be_transferred(amount):
    alice, bob = UserFactory(), UserFactory()
    fund(alice, 10)
    with pytest.raises(ValidationError):
        services.ledger_transfer_post(sender=alice, recipient=bob, amount=amount)


def test_nobody_can_transfer_to_themselves():
    alice = UserFactory()
    fund(alice, 10)
    with pytest.raises(ValidationError):
        services.ledger_transfer_post(sender=alice, recipient=alice, amount=1)


def test_each_entry_records_the_running_balance_of_its_account():
    alice, bob = UserFactory(), UserFactory()
    fund(alice, 10)
    services.ledger_transfer_post(sender=alice, recipient=bob, amount=ftns(3))
    services.ledger_transfer_post(sender=alice, recipient=bob, amount=ftns(2))
    wallet = selectors.wallet_get(user=alice)
    assert list(Entry.objects.filter(account=wallet).order_by("id").values_list("balance_after", flat=True)) == [
        ftns(10), ftns(7), ftns(5)]
    assert selectors.account_balance(account=wallet) == wallet.balance == ftns(5)


def test_the_database_refuses_a_negative_wallet_even_if_python_were_bypassed():
    from django.db import IntegrityError, transaction

    wallet = services.wallet_open(user=UserFactory())
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=wallet.pk).update(balance=-1)
