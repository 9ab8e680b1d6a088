import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from ledger import services
from ledger.models import Entry, Transaction

from .factories import UserFactory, fund, ftns

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry():
    alice, bob = UserFactory(), UserFactory()
    fund(alice, 10)
    return services.ledger_transfer_post(sender=alice, recipient=bob, amount=ftns(1)).entries.first()


def raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_raw_update_of_an_entry_fails(entry):
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE ledger_entry SET amount = amount * 2 WHERE id = %s", [entry.pk])
    assert Entry.objects.get(pk=entry.pk).amount == entry.amount


def test_a_raw_delete_of_an_entry_fails(entry):
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM ledger_entry WHERE id = %s", [entry.pk])
    assert Entry.objects.filter(pk=entry.pk).exists()


def test_a_raw_update_or_delete_of_a_transaction_fails(entry):
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE ledger_transaction SET memo = 'edited' WHERE id = %s", [entry.transaction_id])
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM ledger_transaction WHERE id = %s", [entry.transaction_id])


def test_the_orm_cannot_edit_an_entry_either(entry):
    entry.amount = 1
    with pytest.raises(DatabaseError), transaction.atomic():
        entry.save()


@pytest.mark.django_db(transaction=True)
def test_django_can_still_flush_the_whole_database_as_it_does_between_transactional_tests():
    alice, bob = UserFactory(), UserFactory()
    fund(alice, 10)
    services.ledger_transfer_post(sender=alice, recipient=bob, amount=ftns(1))
    call_command("flush", interactive=False, verbosity=0)
    assert not Entry.objects.exists() and not Transaction.objects.exists()
