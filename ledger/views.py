import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from . import selectors
from .models import Transaction
from .statements import CSV_HEADER, csv_cell, csv_record, statement_rows

PAGE_SIZE = 50


def _kind_filter(request) -> str | None:
    kind = request.GET.get("kind") or None
    return kind if kind in Transaction.Kind.values else None


@login_required
def statement(request):
    kind = _kind_filter(request)
    page = Paginator(selectors.wallet_entries(user=request.user, kind=kind), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "ledger/statement.html", {
        "page": page,
        "rows": list(statement_rows(page.object_list)),
        "balance": selectors.wallet_balance(user=request.user),
        "promo_credit": selectors.wallet_promo_credit(user=request.user),
        "held": selectors.wallet_held(user=request.user),
        "kind": kind,
        "kinds": Transaction.Kind.choices,
    })


class _Echo:
    def write(self, value):
        return value


@login_required
def statement_csv(request):
    entries = selectors.wallet_entries(user=request.user, kind=_kind_filter(request), oldest_first=True)
    writer = csv.writer(_Echo())
    lines = (writer.writerow(csv_record(row)) for row in statement_rows(entries.iterator(chunk_size=500)))
    response = StreamingHttpResponse(
        _with_header(writer.writerow([csv_cell(h) for h in CSV_HEADER]), lines), content_type="text/csv; charset=utf-8"
    )
    filename = f"ftns-statement-{request.user.username}-{timezone.now():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _with_header(header, lines):
    yield header
    yield from lines
