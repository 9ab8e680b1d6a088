from django.core.management.base import BaseCommand

from ledger.idempotency import idempotency_keys_purge


class Command(BaseCommand):
    help = "Delete idempotency keys past their 24-hour life (expired keys are already ignored)."

    def handle(self, *args, **options):
        self.stdout.write(f"deleted {idempotency_keys_purge()} expired idempotency key(s)")
