"""Writes for accounts: sign-up, tokens, the moderators group, and the login-failure throttle."""

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.db import transaction
from rest_framework.authtoken.models import Token

from ledger import services as ledger_services

User = get_user_model()

# Permissions moderators get on the apps present; later apps add theirs through this list.
MODERATOR_PERMISSION_CODENAMES = ["view_user", "change_user"]


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_staff: bool = False) -> User:
    user = User(username=username, email=email, is_staff=is_staff)
    validate_password(password, user=user)
    user.set_password(password)
    user.full_clean()
    user.save()
    ledger_services.wallet_signup_grant_post(user=user)
    return user


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


# --- Login failures: counted per username and per client address, in the cache (Redis in production).


# An address may fail more often than one account: many people can share it (an office, a NAT).
IP_LIMIT_FACTOR = 4


def _failure_limits(username: str, ip: str) -> dict[str, int]:
    limit = settings.LOGIN_FAILURE_LIMIT
    return {f"login-fail:user:{username.lower()}": limit, f"login-fail:ip:{ip}": limit * IP_LIMIT_FACTOR}


def login_retry_after(*, username: str, ip: str) -> int:
    """Seconds until a login may be tried again; 0 when it may be tried now."""
    now = time.time()
    waits = []
    for key, limit in _failure_limits(username, ip).items():
        record = cache.get(key)
        if record and record["count"] >= limit:
            waits.append(int(record["first"] + settings.LOGIN_FAILURE_WINDOW - now) + 1)
    return max([w for w in waits if w > 0], default=0)


def login_failure_record(*, username: str, ip: str) -> None:
    now = time.time()
    for key in _failure_limits(username, ip):
        record = cache.get(key) or {"count": 0, "first": now}
        record["count"] += 1
        remaining = max(1, int(record["first"] + settings.LOGIN_FAILURE_WINDOW - now))
        cache.set(key, record, timeout=remaining)


def login_failures_clear(*, username: str) -> None:
    cache.delete(f"login-fail:user:{username.lower()}")


@transaction.atomic
def user_update(*, user: User, email: str) -> User:
    user.email = email
    user.full_clean()
    user.save(update_fields=["email"])
    return user
