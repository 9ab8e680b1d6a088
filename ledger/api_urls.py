from django.urls import path

from . import api

urlpatterns = [
    path("ledger/balance/", api.LedgerBalanceApi.as_view(), name="api-ledger-balance"),
    path("ledger/entries/", api.LedgerEntriesApi.as_view(), name="api-ledger-entries"),
    path("ledger/transfers/", api.LedgerTransfersApi.as_view(), name="api-ledger-transfers"),
    path("ledger/grants/", api.LedgerGrantsApi.as_view(), name="api-ledger-grants"),
]
