import pytest

from ledger import selectors, services
from ledger.errors import InsufficientFunds
from ledger.models import Account, Transaction

from .factories import UserFactory, fund, ftns

pytestmark = pytest.mark.django_db


def test_a_sale_pays_seventy_percent_to_the_creator_twenty_to_teacher_owners_by_weight_ten_to_the_platform():
    buyer, creator, owner_a, owner_b = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    fund(buyer, 100)
    services.ledger_sale_post(buyer=buyer, creator=creator, price=ftns(100),
                              teachers=[(owner_a, 3), (owner_b, 1)], reference="listing-7")
    assert selectors.wallet_balance(user=buyer) == 0
    assert selectors.wallet_balance(user=creator) == ftns(70)
    assert selectors.wallet_balance(user=owner_a) == ftns(15)
    assert selectors.wallet_balance(user=owner_b) == ftns(5)
    assert services.system_account(Account.Kind.PLATFORM_REVENUE).balance == ftns(10)


def test_a_jobs_revenue_sharing_replaces_the_teachers_twenty_percent():
    buyer, creator = UserFactory(), UserFactory()
    fund(buyer, 100)
    services.ledger_sale_post(buyer=buyer, creator=creator, price=ftns(100), teachers=[(None, 1)], teacher_share=0.05)
    assert services.system_account(Account.Kind.CATALOG_TEACHERS).balance == ftns(5)
    assert selectors.wallet_balance(user=creator) == ftns(85)


def test_a_sale_with_an_odd_price_still_sums_exactly():
    buyer, creator, a, b, c = (UserFactory() for _ in range(5))
    fund(buyer, 2)
    txn = services.ledger_sale_post(buyer=buyer, creator=creator, price=1_000_001, teachers=[(a, 1), (b, 1), (c, 1)])
    assert sum(txn.entries.values_list("amount", flat=True)) == 0
    assert sorted(selectors.wallet_balance(user=u) for u in (a, b, c)) == [66_666, 66_667, 66_667]


def test_a_buyer_without_the_funds_buys_nothing():
    buyer, creator = UserFactory(), UserFactory()
    fund(buyer, 1)
    with pytest.raises(InsufficientFunds):
        services.ledger_sale_post(buyer=buyer, creator=creator, price=ftns(2))
    assert not Transaction.objects.filter(kind=Transaction.Kind.SALE).exists()


def test_a_sale_retried_with_its_dedupe_key_charges_once():
    buyer, creator = UserFactory(), UserFactory()
    fund(buyer, 10)
    first = services.ledger_sale_post(buyer=buyer, creator=creator, price=ftns(4), dedupe_key="purchase:1")
    again = services.ledger_sale_post(buyer=buyer, creator=creator, price=ftns(4), dedupe_key="purchase:1")
    assert first == again
    assert selectors.wallet_balance(user=buyer) == ftns(6)


def test_a_creator_cannot_buy_their_own_model():
    from django.core.exceptions import ValidationError

    creator = UserFactory()
    fund(creator, 10)
    with pytest.raises(ValidationError):
        services.ledger_sale_post(buyer=creator, creator=creator, price=ftns(1))
