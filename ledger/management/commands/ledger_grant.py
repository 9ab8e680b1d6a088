from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ledger.amounts import display_ftns, to_units
from ledger.services import ledger_grant_post
from ledger.users import user_by_username


class Command(BaseCommand):
    help = "Grant FTNS to a user, as a staff member, with a reason that shows on their statement."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("amount", type=Decimal, help="FTNS, e.g. 250 or 12.5")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--by", required=True, help="the staff member's username")

    def handle(self, *args, username, amount, reason, by, **options):
        user, staff = user_by_username(username, active_only=False), user_by_username(by, active_only=False)
        if user is None or staff is None:
            raise CommandError(f"no user named {username if user is None else by!r}")
        try:
            units = to_units(amount)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        try:
            txn = ledger_grant_post(staff=staff, user=user, amount=units, reason=reason)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"granted {display_ftns(units)} FTNS to {username} (transaction #{txn.pk})")
