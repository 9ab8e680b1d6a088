"""API keys in ``Authorization: Token KEY``: the named tokens of ``accounts.models.ApiToken`` and
DRF's older one-per-user ``Token`` (what the register and token endpoints hand out). A named token is
``request.auth``, so ``accounts.permissions.TokenScope`` can check its scopes; a DRF ``Token`` and a
browser session have every scope."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from .models import ApiToken
from .services import API_KEY_PREFIX, api_key_hash

# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_token_user(key: str):
    """The active user a named token's key belongs to, or None (unknown, revoked, inactive user).
    Marks the token used."""
    token = api_token_of(key)
    return token.user if token is not None else None


def api_token_of(key: str) -> ApiToken | None:
    """The live named token with this key, its ``user`` loaded (None: unknown, revoked, inactive user).
    Marks the token used."""
    token = (ApiToken.objects.select_related("user")
             .filter(key_hash=api_key_hash(key), revoked_at__isnull=True, user__is_active=True).first())
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def is_named_key(key: str) -> bool:
    return key.startswith(API_KEY_PREFIX)


class ApiTokenAuthentication(TokenAuthentication):
    """``Authorization: Token KEY`` with a named token's key, or with a DRF ``Token`` key."""

    def authenticate_credentials(self, key):
        if not is_named_key(key):
            return super().authenticate_credentials(key)
        token = api_token_of(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return (token.user, token)
