"""Websocket authentication: the browser's session, or ``?token=KEY`` (a named API token's key or a
DRF token's) for API clients."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator


@database_sync_to_async
def _user_for_token(key: str):
    """A named token's user (accounts.auth) when the token has the ``read`` scope (every consumer only
    reads), or the user of a DRF ``Token`` with this key."""
    from rest_framework.authtoken.models import Token

    from .auth import api_token_of, is_named_key

    if is_named_key(key):
        named = api_token_of(key)
        return named.user if named is not None and "read" in named.scope_set else None
    token = Token.objects.select_related("user").filter(key=key, user__is_active=True).first()
    return token.user if token else None


class TokenAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from a ``token`` query parameter when one is given and valid."""

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        keys = query.get("token")
        if keys:
            user = await _user_for_token(keys[0])
            if user is not None:
                scope = dict(scope, user=user)
        return await super().__call__(scope, receive, send)


def WebsocketAuthStack(inner):  # noqa: N802 - named like Channels' own AuthMiddlewareStack
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))


class BrowserOriginValidator(OriginValidator):
    """Checks the Origin of browser handshakes against ALLOWED_HOSTS.

    Browsers always send Origin on a websocket handshake, so a cross-site page cannot ride on a
    user's session; a handshake without Origin comes from a program (the SDK, the CLI) that
    authenticates with its own token, and is let through to the consumer's own checks.
    """

    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or self.validate_origin(parsed_origin)


def AllowedHostsBrowserOriginValidator(application):  # noqa: N802 - mirrors Channels' factory name
    from django.conf import settings

    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed_hosts)
