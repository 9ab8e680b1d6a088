from django import template

from ..formatting import duration_text

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """Seconds in words: "under a minute", "about 8 min", "about 1 h 15 min"."""
    return duration_text(float(seconds)) or ""
