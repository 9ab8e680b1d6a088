"""Races on PostgreSQL: threads with their own connections, released together by a barrier."""

import pytest
from django.db import OperationalError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ledger import selectors, services
from ledger.errors import InsufficientFunds
from ledger.models import Transaction

from .factories import UserFactory, fund, ftns
from .support import needs_postgresql, run_at_once

pytestmark = [needs_postgresql, pytest.mark.django_db(transaction=True)]


def test_200_concurrent_spends_from_a_wallet_holding_50_of_them_succeed_exactly_50_times():
    spender, recipients = UserFactory(), [UserFactory() for _ in range(25)]
    fund(spender, 50 * 3)

    def spend_eight_times(recipient):
        outcomes = []
        for _ in range(8):
            try:
                services.ledger_transfer_post(sender=spender, recipient=recipient, amount=ftns(3))
                outcomes.append("spent")
            except InsufficientFunds:
                outcomes.append("refused")
        return outcomes

    results = run_at_once([lambda r=r: spend_eight_times(r) for r in recipients])  # 25 connections x 8 = 200
    outcomes = [outcome for result in results for outcome in result]  # a thread's exception fails here
    assert len(outcomes) == 200
    assert outcomes.count("spent") == 50
    assert selectors.wallet_balance(user=spender) == 0
    assert sum(selectors.wallet_balance(user=r) for r in recipients) == ftns(150)


def test_simultaneous_transfers_in_opposite_directions_neither_deadlock_nor_lose_an_update():
    a, b = UserFactory(), UserFactory()
    fund(a, 1000)
    fund(b, 1000)

    def send(sender, recipient):
        for _ in range(10):
            services.ledger_transfer_post(sender=sender, recipient=recipient, amount=ftns(1))

    results = run_at_once([lambda: send(a, b)] * 10 + [lambda: send(b, a)] * 10)
    assert not [r for r in results if isinstance(r, OperationalError)], "deadlock"
    assert results == [None] * 20
    assert Transaction.objects.filter(kind=Transaction.Kind.TRANSFER).count() == 200
    assert (selectors.wallet_balance(user=a), selectors.wallet_balance(user=b)) == (ftns(1000), ftns(1000))


def test_one_idempotency_key_sent_50_times_at_once_makes_one_transfer_and_50_identical_responses():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    fund(alice, 100)
    token = Token.objects.create(user=alice).key

    def send():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = client.post("/api/v1/ledger/transfers/", {"to": "bob", "amount": "7"}, format="json",
                               HTTP_IDEMPOTENCY_KEY="same-key")
        return response.status_code, response.content

    responses = run_at_once([send] * 50)
    assert all(not isinstance(r, BaseException) for r in responses), responses
    assert len(set(responses)) == 1  # byte for byte
    assert responses[0][0] == 201
    assert Transaction.objects.filter(kind=Transaction.Kind.TRANSFER).count() == 1
    assert selectors.wallet_balance(user=bob) == ftns(7)


def test_a_settlement_and_a_redelivery_of_it_at_the_same_moment_settle_once():
    from ledger import pricing
    from ledger.models import Hold

    user = UserFactory()
    fund(user, 500)
    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))
    cost = pricing.job_cost(teachers=0, compute_hours=2, validation_suites=1)  # 180 FTNS
    settle = lambda: services.hold_settle(reference="job-1", cost=cost, teacher_owners=[]).close_transaction_id  # noqa: E731
    results = run_at_once([settle] * 8)
    assert len(set(results)) == 1 and isinstance(results[0], int), results
    assert Hold.objects.get().state == Hold.State.SETTLED
    assert selectors.wallet_balance(user=user) == ftns(320)


def test_the_same_hold_placed_twice_at_the_same_moment_is_held_once():
    user = UserFactory()
    fund(user, 500)
    place = lambda: services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300)).pk  # noqa: E731
    results = run_at_once([place] * 8)
    assert len(set(results)) == 1 and isinstance(results[0], int), results
    assert selectors.wallet_balance(user=user) == ftns(200)


def test_a_purchase_retried_at_the_same_moment_with_its_dedupe_key_charges_once():
    buyer, creator = UserFactory(), UserFactory()
    fund(buyer, 10)
    buy = lambda: services.ledger_sale_post(buyer=buyer, creator=creator, price=ftns(10), dedupe_key="purchase:1").pk  # noqa: E731
    results = run_at_once([buy] * 8)
    assert len(set(results)) == 1 and isinstance(results[0], int), results
    assert selectors.wallet_balance(user=buyer) == 0
