import os

from django.contrib.auth import get_user_model
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import services
from ledger import services as ledger_services

DEMO_USERNAME = "demo"
# The local demo's published password (README, `make up`); refused when DEBUG is off, see handle().
DEMO_PASSWORD_DEFAULT = "distill-demo-2026"  # nosec B105  # public on purpose, for local use only


class Command(BaseCommand):
    help = "Create the moderators group and the demo account (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="only the moderators group")

    @transaction.atomic
    def handle(self, *args, no_demo=False, **options):
        services.moderators_group_ensure()
        self.stdout.write("moderators group: ready")
        if no_demo:
            return
        password = os.environ.get("PRSM_DEMO_PASSWORD", DEMO_PASSWORD_DEFAULT)
        user = get_user_model().objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            if password == DEMO_PASSWORD_DEFAULT and not settings.DEBUG:
                raise CommandError("the demo account's default password is published in the README; outside "
                                   "development set PRSM_DEMO_PASSWORD, or run bootstrap with --no-demo")
            user = services.user_create(username=DEMO_USERNAME, password=password, email="demo@example.com")
            self.stdout.write(f"demo user: created ({DEMO_USERNAME} / {password})")
        else:
            self.stdout.write(f"demo user: exists ({DEMO_USERNAME})")
            ledger_services.wallet_signup_grant_post(user=user)  # once per user; a no-op when it had it
        services.user_token_get_or_create(user=user)
