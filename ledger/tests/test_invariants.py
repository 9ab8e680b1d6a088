import pytest
from django.core.management import CommandError, call_command

from ledger import selectors, services
from ledger.models import Account

from .factories import UserFactory, fund, ftns

pytestmark = pytest.mark.django_db


def test_the_books_check_finds_a_cached_balance_that_drifted_from_its_entries():
    user = UserFactory()
    fund(user, 10)
    wallet = selectors.wallet_get(user=user)
    Account.objects.filter(pk=wallet.pk).update(balance=ftns(11))
    try:
        problems = selectors.ledger_problems()
        assert any(f"account {wallet.code}: cached balance" in p for p in problems)
        with pytest.raises(CommandError):
            call_command("ledger_verify")
    finally:
        Account.objects.filter(pk=wallet.pk).update(balance=ftns(10))


def test_the_books_check_finds_a_holds_account_that_does_not_match_the_open_holds():
    user = UserFactory()
    fund(user, 10)
    services.hold_place(user=user, reference="job-1", amount=ftns(5), budget=ftns(5))
    holds = services.system_account(Account.Kind.HOLDS)
    Account.objects.filter(pk=holds.pk).update(balance=ftns(4))
    try:
        assert any("holds account" in p for p in selectors.ledger_problems())
    finally:
        Account.objects.filter(pk=holds.pk).update(balance=ftns(5))


def test_ledger_verify_passes_on_consistent_books(capsys):
    fund(UserFactory(), 3)
    call_command("ledger_verify")
    assert "consistent" in capsys.readouterr().out
