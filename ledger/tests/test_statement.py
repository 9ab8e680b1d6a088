import csv
import io

import pytest

from ledger import services
from ledger.statements import csv_cell

from .factories import UserFactory, fund, ftns

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    user = UserFactory(username="alice")
    client.force_login(user)
    return user


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_statement_page_shows_the_balance_and_a_running_balance(client, alice):
    fund(alice, 100)
    services.ledger_transfer_post(sender=alice, recipient=UserFactory(username="bob"), amount=ftns(12.5), memo="lunch")
    response = client.get("/ledger/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Balance: 87.50 FTNS" in html
    rows = response.context["rows"]
    assert [(r.debit, r.credit, r.balance) for r in rows] == [(ftns(12.5), 0, ftns(87.5)), (0, ftns(100), ftns(100))]
    assert rows[0].counterparty == "bob"
    assert "Transfer: lunch" in html


def test_the_statement_page_needs_a_login(client):
    response = client.get("/ledger/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_statement_is_paged_and_filtered_by_kind(client, alice):
    fund(alice, 100)
    bob = UserFactory()
    for _ in range(55):
        services.ledger_transfer_post(sender=alice, recipient=bob, amount=1)
    assert len(client.get("/ledger/").context["rows"]) == 50
    assert len(client.get("/ledger/?page=2").context["rows"]) == 6
    assert [r.kind for r in client.get("/ledger/?kind=deposit").context["rows"]] == ["Deposit"]


def test_the_csv_export_lists_entries_oldest_first_with_debit_credit_and_balance(client, alice):
    fund(alice, 100)
    services.ledger_transfer_post(sender=alice, recipient=UserFactory(username="bob"), amount=ftns(40))
    response = client.get("/ledger/statement.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, deposit, transfer = csv_rows(response)
    assert header[-3:] == ["debit_ftns", "credit_ftns", "balance_ftns"]
    assert deposit[-3:] == ["", "100.000000", "100.000000"]
    assert transfer[-3:] == ["40.000000", "", "60.000000"]
    assert transfer[5] == "bob"


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_escaped(client, alice):
    fund(alice, 10)
    bob = UserFactory(username="bob")
    for memo in ['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)", "\tx", "plain"]:
        services.ledger_transfer_post(sender=alice, recipient=bob, amount=1, memo=memo)
    memos = [row[3] for row in csv_rows(client.get("/ledger/statement.csv"))[2:]]
    assert memos == ["'=HYPERLINK(\"http://evil\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tx", "plain"]


def test_csv_escaping_leaves_safe_cells_alone():
    assert csv_cell("12.500000") == "12.500000"
    assert csv_cell("") == ""
    assert csv_cell("-1") == "'-1"
