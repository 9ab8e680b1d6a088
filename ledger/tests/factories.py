import uuid

import factory
from django.contrib.auth import get_user_model

from ledger import services
from ledger.amounts import UNITS_PER_FTNS


class UserFactory(factory.django.DjangoModelFactory):
    """A plain user (no signup grant: wallets start empty unless a test funds them)."""

    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("a long test passphrase")


class StaffFactory(UserFactory):
    is_staff = True


def fund(user, ftns: int) -> None:
    """Deposit whole FTNS into a user's wallet, as a payment provider would."""
    services.ledger_deposit_post(user=user, amount=ftns * UNITS_PER_FTNS, external_reference=f"test-{uuid.uuid4()}")


def ftns(amount: int | float) -> int:
    return round(amount * UNITS_PER_FTNS)
