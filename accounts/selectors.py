from django.conf import settings


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
