import pytest
from rest_framework.authtoken.models import Token

from ledger import selectors, services

from .factories import StaffFactory, UserFactory, fund, ftns

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(api_client):
    user = UserFactory(username="alice")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return user


def transfer(api_client, body, key="k-1"):
    return api_client.post("/api/v1/ledger/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_balance_shows_spendable_and_held_ftns(api_client, alice):
    fund(alice, 100)
    services.hold_place(user=alice, reference="job-1", amount=ftns(30), budget=ftns(50))
    response = api_client.get("/api/v1/ledger/balance/")
    assert response.status_code == 200
    assert response.json() == {"balance": "70.000000", "balance_units": ftns(70), "held": "30.000000",
                               "held_units": ftns(30), "promo_credit": "0.000000", "promo_credit_units": 0,
                               "transferable": "70.000000", "transferable_units": ftns(70), "currency": "FTNS"}


def test_a_user_without_a_wallet_has_a_zero_balance(api_client, alice):
    assert api_client.get("/api/v1/ledger/balance/").json()["balance_units"] == 0


def test_the_ledger_api_needs_authentication(api_client):
    response = api_client.get("/api/v1/ledger/balance/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_transfer_through_the_api_moves_ftns_and_answers_201(api_client, alice):
    fund(alice, 100)
    bob = UserFactory(username="bob")
    response = transfer(api_client, {"to": "bob", "amount": "12.5", "memo": "lunch"})
    assert response.status_code == 201
    body = response.json()
    assert (body["to"], body["amount"], body["amount_units"], body["balance"]) == ("bob", "12.500000", 12_500_000, "87.500000")
    assert selectors.wallet_balance(user=bob) == 12_500_000


@pytest.mark.parametrize("body, field, code", [
    ({"to": "bob", "amount": "0"}, "amount", "min_value"),
    ({"to": "bob", "amount": "-3"}, "amount", "min_value"),
    ({"to": "bob", "amount": "1.0000001"}, "amount", "max_decimal_places"),
    ({"to": "bob", "amount": "ten"}, "amount", "invalid"),
    ({"to": "nobody", "amount": "1"}, "to", "unknown_user"),
    ({"to": "alice", "amount": "1"}, "to", "invalid"),
    ({"amount": "1"}, "to", "required"),
])
def test_a_bad_transfer_is_a_400_that_names_the_field(api_client, alice, body, field, code):
    fund(alice, 10)
    UserFactory(username="bob")
    response = transfer(api_client, body)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert response.json()["error"]["code"] == code


def test_a_transfer_beyond_the_balance_is_a_409_insufficient_funds(api_client, alice):
    fund(alice, 1)
    UserFactory(username="bob")
    response = transfer(api_client, {"to": "bob", "amount": "2"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_funds"


def test_a_transfer_needs_an_idempotency_key(api_client, alice):
    UserFactory(username="bob")
    response = api_client.post("/api/v1/ledger/transfers/", {"to": "bob", "amount": "1"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "Idempotency-Key"


def test_entries_are_newest_first_paged_and_show_the_running_balance(api_client, alice):
    fund(alice, 10)
    bob = UserFactory(username="bob")
    for amount in (1, 2, 3):
        services.ledger_transfer_post(sender=alice, recipient=bob, amount=ftns(amount))
    page = api_client.get("/api/v1/ledger/entries/?limit=2").json()
    assert page["count"] == 4
    assert [e["amount"] for e in page["results"]] == ["-3.000000", "-2.000000"]
    assert [e["balance_after"] for e in page["results"]] == ["4.000000", "7.000000"]
    assert page["results"][0]["counterparty"] == "bob"
    assert page["next"].endswith("limit=2&offset=2")
    older = api_client.get(page["next"]).json()
    assert [e["kind"] for e in older["results"]] == ["transfer", "deposit"]


def test_entries_filter_by_kind_direction_reference_and_time(api_client, alice):
    fund(alice, 10)
    bob = UserFactory(username="bob")
    services.ledger_transfer_post(sender=alice, recipient=bob, amount=ftns(1))
    services.hold_place(user=alice, reference="job-9", amount=ftns(2), budget=ftns(2))
    get = lambda query: api_client.get(f"/api/v1/ledger/entries/?{query}").json()["results"]  # noqa: E731
    assert [e["kind"] for e in get("kind=transfer")] == ["transfer"]
    assert [e["kind"] for e in get("direction=credit")] == ["deposit"]
    assert [e["reference"] for e in get("reference=job-9")] == ["job-9"]
    assert get("since=2999-01-01T00:00:00Z") == []
    assert len(get("until=2999-01-01T00:00:00Z")) == 3


def test_entries_show_only_the_callers_wallet(api_client, alice):
    fund(UserFactory(), 10)
    assert api_client.get("/api/v1/ledger/entries/").json()["count"] == 0


def test_a_bad_filter_is_a_400(api_client, alice):
    response = api_client.get("/api/v1/ledger/entries/?kind=bribe")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "kind"


def test_staff_grant_through_the_api_and_others_are_refused(api_client):
    staff, user = StaffFactory(), UserFactory(username="carol")
    api_client.force_authenticate(staff)
    body = {"to": "carol", "amount": "25", "reason": "hackathon prize"}
    response = api_client.post("/api/v1/ledger/grants/", body, format="json", HTTP_IDEMPOTENCY_KEY="g-1")
    assert response.status_code == 201
    assert selectors.wallet_balance(user=user) == ftns(25)
    api_client.force_authenticate(UserFactory())
    response = api_client.post("/api/v1/ledger/grants/", body, format="json", HTTP_IDEMPOTENCY_KEY="g-2")
    assert response.status_code == 403


def test_the_openapi_schema_documents_the_ledger_routes_with_unique_component_names():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for path in ("/api/v1/ledger/balance/", "/api/v1/ledger/entries/", "/api/v1/ledger/transfers/"):
        assert path in paths
    transfer_parameters = {p["name"]: p for p in paths["/api/v1/ledger/transfers/"]["post"]["parameters"]}
    assert transfer_parameters["Idempotency-Key"]["in"] == "header"
    assert transfer_parameters["Idempotency-Key"]["required"] is True
    assert "PaginatedLedgerEntryOutputList" in schema["components"]["schemas"]
    entry_parameters = {p["name"] for p in paths["/api/v1/ledger/entries/"]["get"]["parameters"]}
    assert {"kind", "since", "until", "direction", "reference", "limit", "offset"} <= entry_parameters
