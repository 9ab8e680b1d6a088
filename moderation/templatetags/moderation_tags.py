from django import template

from accounts.selectors import user_is_moderator

register = template.Library()


@register.filter
def is_moderator(user) -> bool:
    """For the navigation: only staff can be moderators, so others cost no query."""
    return bool(user.is_authenticated and (user.is_staff or user.is_superuser) and user_is_moderator(user=user))
