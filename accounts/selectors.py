from django.conf import settings


def user_is_moderator(*, user) -> bool:
    return user.is_superuser or (user.is_staff and user.groups.filter(name=settings.MODERATORS_GROUP).exists())


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"
