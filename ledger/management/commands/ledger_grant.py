from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ledger.amounts import display_ftns, to_units
from ledger.services import ledger_grant_post


class Command(BaseCommand):
    help = "Grant FTNS to a user, as a staff member, with a reason that shows on their statement."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("amount", type=Decimal, help="FTNS, e.g. 250 or 12.5")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--by", required=True, help="the staff member's username")

    def handle(self, *args, username, amount, reason, by, **options):
        users = get_user_model().objects
        try:
            user, staff = users.get(username=username), users.get(username=by)
            units = to_units(amount)
        except (users.model.DoesNotExist, ValueError) as exc:
            raise CommandError(str(exc)) from None
        try:
            txn = ledger_grant_post(staff=staff, user=user, amount=units, reason=reason)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"granted {display_ftns(units)} FTNS to {username} (transaction #{txn.pk})")
