import pytest
from django.core.exceptions import ValidationError

from accounts.services import user_create
from ledger import selectors, services
from ledger.amounts import UNITS_PER_FTNS
from ledger.errors import NotReversible
from ledger.models import Account, Transaction

from .factories import StaffFactory, UserFactory, fund, ftns

pytestmark = pytest.mark.django_db


def test_signing_up_opens_a_wallet_with_the_signup_grant(settings):
    settings.LEDGER_SIGNUP_GRANT = 250
    user = user_create(username="ada", password="a long passphrase 1", email="ada@example.com")
    assert selectors.wallet_balance(user=user) == 250 * UNITS_PER_FTNS
    grant = Transaction.objects.get(kind=Transaction.Kind.SIGNUP_GRANT)
    assert grant.entries.get(account__kind=Account.Kind.ISSUANCE).amount == -250 * UNITS_PER_FTNS


def test_the_signup_grant_is_given_once_however_often_it_is_posted(settings):
    settings.LEDGER_SIGNUP_GRANT = 100
    user = UserFactory()
    services.wallet_signup_grant_post(user=user)
    services.wallet_signup_grant_post(user=user)
    assert selectors.wallet_balance(user=user) == ftns(100)


def test_a_signup_grant_of_zero_opens_an_empty_wallet(settings):
    settings.LEDGER_SIGNUP_GRANT = 0
    user = UserFactory()
    assert services.wallet_signup_grant_post(user=user).balance == 0
    assert not Transaction.objects.exists()


def test_staff_grant_ftns_with_a_reason_that_the_statement_shows():
    staff, user = StaffFactory(), UserFactory()
    txn = services.ledger_grant_post(staff=staff, user=user, amount=ftns(40), reason="  beta tester  ")
    assert (txn.kind, txn.memo, txn.created_by) == (Transaction.Kind.GRANT, "beta tester", staff)
    assert selectors.wallet_balance(user=user) == ftns(40)


def test_a_grant_needs_staff_and_a_reason():
    user = UserFactory()
    with pytest.raises(ValidationError, match="staff"):
        services.ledger_grant_post(staff=UserFactory(), user=user, amount=1, reason="why not")
    with pytest.raises(ValidationError, match="reason"):
        services.ledger_grant_post(staff=StaffFactory(), user=user, amount=1, reason=" ")


def test_a_deposit_is_credited_once_per_external_reference():
    user = UserFactory()
    first = services.ledger_deposit_post(user=user, amount=ftns(5), external_reference="pay_123")
    again = services.ledger_deposit_post(user=user, amount=ftns(5), external_reference="pay_123")
    assert first == again
    assert selectors.wallet_balance(user=user) == ftns(5)


def test_a_correction_is_a_reversing_transaction():
    staff, alice, bob = StaffFactory(), UserFactory(), UserFactory()
    fund(alice, 10)
    transfer = services.ledger_transfer_post(sender=alice, recipient=bob, amount=ftns(4))
    reversal = services.ledger_transaction_reverse(staff=staff, original=transfer, reason="sent by mistake")
    assert reversal.reverses == transfer
    assert selectors.wallet_balance(user=alice) == ftns(10)
    assert selectors.wallet_balance(user=bob) == 0
    with pytest.raises(NotReversible, match="already reversed"):
        services.ledger_transaction_reverse(staff=staff, original=transfer, reason="again")


def test_a_hold_cannot_be_reversed_only_closed():
    user = UserFactory()
    fund(user, 500)
    hold = services.hold_place(user=user, reference="job-1", amount=ftns(200), budget=ftns(300))
    with pytest.raises(NotReversible):
        services.ledger_transaction_reverse(staff=StaffFactory(), original=hold.place_transaction, reason="no")
