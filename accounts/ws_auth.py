"""Websocket authentication: the browser's session, or ``?token=KEY`` for API clients."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

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
