from django.urls import path

from . import views

app_name = "ledger"

urlpatterns = [
    path("", views.statement, name="statement"),
    path("statement.csv", views.statement_csv, name="statement-csv"),
]
