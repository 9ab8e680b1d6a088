from django.conf import settings

from .models import ApiToken, Notification


def user_is_moderator(*, user) -> bool:
    return user.is_superuser or (user.is_staff and user.groups.filter(name=settings.MODERATORS_GROUP).exists())


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front, the address
    the outermost trusted proxy saw (that many from the right of X-Forwarded-For; anything further
    left was written by the client). The same rule as DRF's NUM_PROXIES."""
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    proxies, forwarded = settings.TRUSTED_PROXY_COUNT, request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [address.strip() for address in forwarded.split(",") if address.strip()]
    return addresses[-min(proxies, len(addresses))] if addresses else remote


def api_tokens_of(*, user, live_only: bool = True):
    """The user's API tokens, newest first (revoked ones too when ``live_only`` is False)."""
    tokens = ApiToken.objects.filter(user=user)
    return tokens.filter(revoked_at__isnull=True) if live_only else tokens


def notifications_of(*, user, limit: int = 20):
    return Notification.objects.filter(user=user)[:limit]
