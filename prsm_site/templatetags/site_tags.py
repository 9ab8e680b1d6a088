"""Small filters the shared layout needs."""

from django import template

register = template.Library()


@register.filter
def within(path: str, section: str) -> bool:
    """Whether ``path`` is ``section`` or a page under it (``/jobs/1/`` is within ``/jobs/``;
    ``/moderation/jobs/`` is not)."""
    return bool(section) and path.startswith(section)
