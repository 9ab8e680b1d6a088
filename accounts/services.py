"""Writes for accounts: sign-up, tokens and the moderators group (the throttles are in throttles.py)."""

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from rest_framework.authtoken.models import Token

from ledger import services as ledger_services
from ledger.users import username_key, username_normalize

User = get_user_model()

# Permissions moderators get on the apps present; later apps add theirs through this list.
MODERATOR_PERMISSION_CODENAMES = ["view_user", "change_user"]


# What a new username may hold once NFKC-normalised: ASCII, so that "the same name without case"
# means the same on every database, and no letter from another script can pass for a Latin one.
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._@+-]+")


def username_clean(*, username: str) -> str:
    """The name a new account gets (NFKC-normalised), or a ValidationError with code ``invalid`` or
    ``taken``: another account has the same name once both are normalised and compared without case."""
    name = username_normalize(username)
    if not USERNAME_PATTERN.fullmatch(name):
        raise ValidationError("Use letters A-Z, digits and . _ @ + - only.", code="invalid")
    if User.objects.filter(username__iexact=name).exists():
        raise ValidationError("A user with that username already exists.", code="taken")
    return name


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_staff: bool = False) -> User:
    """A new account with its signup grant; a ValidationError names the field it is about."""
    _username_lock(username)
    try:
        username = username_clean(username=username)
    except ValidationError as exc:
        raise ValidationError({"username": exc}) from None
    user = User(username=username, email=email, is_staff=is_staff)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"password": exc}) from None
    user.set_password(password)
    user.full_clean()
    user.save()
    ledger_services.wallet_signup_grant_post(user=user)
    return user


def _username_lock(username: str) -> None:
    """Two sign-ups of one name in different cases must not both pass the check: SQLite runs one
    writing transaction at a time; PostgreSQL takes a lock on the name until the commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"username:{username_key(username)}"])


def user_token_get_or_create(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


@transaction.atomic
def moderators_group_ensure() -> Group:
    group, _ = Group.objects.get_or_create(name=settings.MODERATORS_GROUP)
    permissions = Permission.objects.filter(codename__in=MODERATOR_PERMISSION_CODENAMES)
    group.permissions.add(*permissions)
    return group


@transaction.atomic
def moderator_add(*, user: User) -> None:
    """Moderators are staff (they use the admin console) and members of the moderators group."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(moderators_group_ensure())


@transaction.atomic
def user_update(*, user: User, email: str) -> User:
    user.email = email
    user.full_clean()
    user.save(update_fields=["email"])
    return user
