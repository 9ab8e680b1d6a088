from django.core.management.base import BaseCommand, CommandError

from ledger.selectors import ledger_problems


class Command(BaseCommand):
    help = "Prove the books balance: entries sum to zero, cached balances equal their entries, no wallet negative."

    def handle(self, *args, **options):
        problems = ledger_problems()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} ledger problem(s)")
        self.stdout.write("ledger: consistent")
