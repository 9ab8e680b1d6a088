"""The signup grant is promotional credit: it pays for jobs, and never leaves the account otherwise."""

import pytest
from rest_framework.authtoken.models import Token

from ledger import pricing, selectors, services
from ledger.errors import InsufficientFunds
from ledger.models import Account, Transaction

from .factories import UserFactory, fund, ftns

pytestmark = pytest.mark.django_db

COST = pricing.job_cost(teachers=2, compute_hours=1, validation_suites=1)  # 100 base + 2 x 50 + 25 + 30 = 255


@pytest.fixture
def newcomer(settings):
    """Makes an account that has only its signup grant, as a throwaway account would."""

    def make(grant: int = 1000):
        settings.LEDGER_SIGNUP_GRANT = grant
        user = UserFactory()
        services.wallet_signup_grant_post(user=user)
        return user

    return make


def promo(user) -> int:
    return selectors.wallet_promo_credit(user=user)


def test_the_signup_grant_is_promotional_credit_in_the_balance_but_not_in_the_wallet(newcomer):
    user = newcomer(250)
    assert selectors.wallet_balance(user=user) == promo(user) == ftns(250)
    assert selectors.wallet_get(user=user).balance == 0
    grant = Transaction.objects.get(kind=Transaction.Kind.SIGNUP_GRANT)
    assert {e.account.kind: e.amount for e in grant.entries.select_related("account")} == {
        Account.Kind.ISSUANCE: -ftns(250), Account.Kind.PROMO: ftns(250)}


def test_a_throwaway_account_cannot_transfer_its_grant_to_another_account(newcomer):
    throwaway, collector = newcomer(), UserFactory()
    with pytest.raises(InsufficientFunds, match="Promotional credit .* cannot be transferred"):
        services.ledger_transfer_post(sender=throwaway, recipient=collector, amount=ftns(1))
    assert selectors.wallet_balance(user=collector) == 0
    assert promo(throwaway) == ftns(1000)


def test_the_transfer_api_refuses_the_grant_with_409(api_client, newcomer):
    throwaway = newcomer()
    UserFactory(username="collector")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=throwaway).key}")

    response = api_client.post("/api/v1/ledger/transfers/", {"to": "collector", "amount": "1000"}, format="json",
                               HTTP_IDEMPOTENCY_KEY="funnel")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert "Promotional credit" in response.json()["error"]["message"]
    balance = api_client.get("/api/v1/ledger/balance/").json()
    assert (balance["balance"], balance["promo_credit"], balance["transferable"]) == ("1000.000000", "1000.000000", "0.000000")


def test_a_throwaway_account_cannot_buy_with_its_grant(newcomer):
    throwaway, creator = newcomer(), UserFactory()
    sales = Transaction.objects.filter(kind=Transaction.Kind.SALE).count()
    with pytest.raises(InsufficientFunds, match="cannot be transferred or buy models"):
        services.ledger_sale_post(buyer=throwaway, creator=creator, price=ftns(10), reference="listing:1",
                                  dedupe_key="sale:1")
    assert Transaction.objects.filter(kind=Transaction.Kind.SALE).count() == sales
    assert selectors.wallet_balance(user=creator) == 0 and promo(throwaway) == ftns(1000)


def test_a_sale_is_paid_from_the_wallet_even_when_there_is_promotional_credit(newcomer):
    buyer, creator = newcomer(), UserFactory()
    fund(buyer, 10)
    services.ledger_sale_post(buyer=buyer, creator=creator, price=ftns(10))
    assert selectors.wallet_get(user=buyer).balance == 0 and promo(buyer) == ftns(1000)
    assert selectors.wallet_balance(user=creator) == ftns(9)  # no teachers: 90% to the creator


def test_a_hold_takes_promotional_credit_first_and_the_wallet_for_the_rest(newcomer):
    user = newcomer(100)
    fund(user, 500)
    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))
    assert promo(user) == 0
    assert selectors.wallet_get(user=user).balance == ftns(300)
    assert selectors.wallet_held(user=user) == ftns(300)


def test_promotional_credit_pays_the_platform_first_and_the_rest_goes_back_where_it_came_from(newcomer):
    user, teacher_owner = newcomer(100), UserFactory()
    fund(user, 500)
    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))

    hold = services.hold_settle(reference="job-1", cost=COST, teacher_owners=[teacher_owner, None])

    assert (hold.charged, hold.released) == (ftns(255), ftns(45))
    assert promo(user) == 0  # the 100 of credit paid the platform's 155 first
    assert selectors.wallet_get(user=user).balance == ftns(300 + 45)
    assert selectors.wallet_get(user=teacher_owner).balance == ftns(50) and promo(teacher_owner) == 0


def test_the_teacher_fees_credit_pays_reach_a_teachers_owner_as_credit_and_exactly(newcomer):
    user, teacher_owner = newcomer(200), UserFactory()
    fund(user, 100)
    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))
    platform = services.system_account(Account.Kind.PLATFORM_REVENUE).balance
    catalog = services.system_account(Account.Kind.CATALOG_TEACHERS).balance

    services.hold_settle(reference="job-1", cost=COST, teacher_owners=[teacher_owner, None])

    # credit pays the platform's 155, then 45 of the teachers' 100, in proportion; the wallet the other 55
    assert (promo(teacher_owner), selectors.wallet_get(user=teacher_owner).balance) == (ftns(22.5), ftns(27.5))
    assert services.system_account(Account.Kind.CATALOG_TEACHERS).balance == catalog + ftns(50)
    assert services.system_account(Account.Kind.PLATFORM_REVENUE).balance == platform + ftns(155)
    assert promo(user) == 0 and selectors.wallet_get(user=user).balance == ftns(45)


@pytest.mark.parametrize("close", [services.hold_release, services.hold_refund])
def test_a_released_or_refunded_hold_returns_credit_as_credit(newcomer, close):
    user = newcomer(100)
    fund(user, 500)
    services.hold_place(user=user, reference="job-1", amount=ftns(300), budget=ftns(300))

    close(reference="job-1")

    assert promo(user) == ftns(100) and selectors.wallet_get(user=user).balance == ftns(500)


def test_the_statement_shows_the_grant_on_the_promotional_credit_account(client, newcomer):
    user = newcomer(100)
    client.force_login(user)

    response = client.get("/ledger/")

    assert [(row.account, row.credit) for row in response.context["rows"]] == [("promotional credit", ftns(100))]
    assert "is promotional credit" in response.content.decode()
