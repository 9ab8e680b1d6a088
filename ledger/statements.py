"""A wallet's statement as rows: shared by the HTML page and the CSV export."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from .amounts import format_ftns
from .models import Account, Entry
from .selectors import entry_counterparties

CSV_HEADER = ["date", "transaction", "kind", "description", "reference", "counterparty", "account", "debit_ftns",
              "credit_ftns", "balance_ftns"]
# A user's two accounts; each row's balance is the balance of the row's account.
ACCOUNT_NAMES = {Account.Kind.WALLET: "wallet", Account.Kind.PROMO: "promotional credit"}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class StatementRow:
    entry_id: int
    transaction_id: int
    date: datetime
    kind: str
    description: str
    reference: str
    counterparty: str
    account: str  # wallet or promotional credit
    debit: int  # units, never negative: debits and credits get a column each
    credit: int
    balance: int


def statement_rows(entries: Iterable[Entry], *, batch: int = 500) -> Iterator[StatementRow]:
    chunk: list[Entry] = []
    for entry in entries:
        chunk.append(entry)
        if len(chunk) == batch:
            yield from _rows(chunk)
            chunk = []
    yield from _rows(chunk)


def _rows(entries: list[Entry]) -> Iterator[StatementRow]:
    if not entries:
        return
    counterparties = entry_counterparties(entries=entries)
    for entry in entries:
        txn = entry.transaction
        yield StatementRow(
            entry_id=entry.pk, transaction_id=txn.pk, date=txn.created_at, kind=txn.get_kind_display(),
            description=txn.memo, reference=txn.reference, counterparty=counterparties.get(entry.pk, ""),
            account=ACCOUNT_NAMES.get(entry.account.kind, entry.account.code),
            debit=max(-entry.amount, 0), credit=max(entry.amount, 0), balance=entry.balance_after,
        )


def csv_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_record(row: StatementRow) -> list[str]:
    values = [
        row.date.isoformat(), row.transaction_id, row.kind, row.description, row.reference, row.counterparty, row.account,
        format_ftns(row.debit) if row.debit else "", format_ftns(row.credit) if row.credit else "", format_ftns(row.balance),
    ]
    return [csv_cell(value) for value in values]
