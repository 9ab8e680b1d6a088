from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from ledger import selectors
from ledger.models import IdempotencyKey, Transaction

from .factories import UserFactory, fund, ftns

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(api_client):
    user = UserFactory(username="alice")
    api_client.force_authenticate(user)
    UserFactory(username="bob")
    return user


def transfer(api_client, body, key):
    return api_client.post("/api/v1/ledger/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_same_key_and_body_replays_the_first_response_and_moves_money_once(api_client, alice):
    fund(alice, 10)
    first = transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1")
    again = transfer(api_client, {"amount": "3", "to": "bob"}, "pay-1")  # same body, keys in another order
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert Transaction.objects.filter(kind=Transaction.Kind.TRANSFER).count() == 1
    assert selectors.wallet_balance(user=alice) == ftns(7)


def test_an_error_is_replayed_too_even_once_it_would_succeed(api_client, alice):
    first = transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1")
    assert first.status_code == 409
    fund(alice, 10)
    again = transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1")
    assert (again.status_code, again.json()) == (409, first.json())
    assert selectors.wallet_balance(user=alice) == ftns(10)


def test_the_same_key_with_another_body_is_a_409(api_client, alice):
    fund(alice, 10)
    transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1")
    response = transfer(api_client, {"to": "bob", "amount": "4"}, "pay-1")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert selectors.wallet_balance(user=alice) == ftns(7)


def test_keys_belong_to_one_user(api_client, alice):
    fund(alice, 10)
    transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1")
    carol = UserFactory(username="carol")
    fund(carol, 10)
    api_client.force_authenticate(carol)
    assert transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1").status_code == 201
    assert selectors.wallet_balance(user=carol) == ftns(7)


def test_a_key_expires_after_24_hours(api_client, alice):
    fund(alice, 10)
    transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = transfer(api_client, {"to": "bob", "amount": "4"}, "pay-1")
    assert response.status_code == 201
    assert selectors.wallet_balance(user=alice) == ftns(3)


def test_keys_live_24_hours_and_expired_ones_are_purged(api_client, alice):
    fund(alice, 10)
    transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1")
    key = IdempotencyKey.objects.get()
    assert timedelta(hours=23, minutes=59) < key.expires_at - key.created_at <= timedelta(hours=24)
    call_command("ledger_purge_idempotency_keys", verbosity=0)
    assert IdempotencyKey.objects.count() == 1
    IdempotencyKey.objects.update(expires_at=timezone.now())
    call_command("ledger_purge_idempotency_keys", verbosity=0)
    assert not IdempotencyKey.objects.exists()


def test_a_server_error_is_not_remembered_so_a_retry_runs_again(api_client, alice, monkeypatch):
    from ledger import services

    fund(alice, 10)
    real = services.ledger_transfer_post

    def broken(**kwargs):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(services, "ledger_transfer_post", broken)
    api_client.raise_request_exception = False
    assert transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1").status_code == 500
    monkeypatch.setattr(services, "ledger_transfer_post", real)
    assert transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1").status_code == 201
    assert selectors.wallet_balance(user=alice) == ftns(7)


def test_a_domain_error_with_a_field_and_extra_keys_is_stored_and_replayed_byte_for_byte(api_client, alice, monkeypatch):
    from core.errors import DomainError
    from ledger import services

    def refused(**kwargs):
        raise DomainError("Over the budget.", field="amount", code="over_budget", status_code=409,
                          extra={"estimate": {"cost_ftns": "12.5"}})

    monkeypatch.setattr(services, "ledger_transfer_post", refused)
    first = transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1")
    again = transfer(api_client, {"to": "bob", "amount": "3"}, "pay-1")

    assert first.status_code == again.status_code == 409  # a status the route declares (tests/schema_conformance.py)
    assert first.content == again.content == (
        b'{"error":{"code":"over_budget","message":"Over the budget.","field":"amount"},"estimate":{"cost_ftns":"12.5"}}')
    assert again["Idempotent-Replayed"] == "true" and IdempotencyKey.objects.get().status_code == 409
