from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "FTNS ledger"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.backends.signals import connection_created

        from .db import sqlite_connection_prepare

        connection_created.connect(sqlite_connection_prepare, dispatch_uid="ledger-sqlite-guard")
