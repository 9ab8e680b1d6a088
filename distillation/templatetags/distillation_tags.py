from django import template

from ..formatting import duration_text, expected_figures, expected_text

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """Seconds in words: "under a minute", "about 8 min", "about 1 h 15 min"."""
    return duration_text(float(seconds)) or ""


@register.filter
def expected_sentence(expected) -> str:
    """An estimate's ``expected`` block in words, with what it rests on."""
    return expected_text(expected)


@register.filter
def expected_short(expected) -> str:
    """Its figures only, for a table cell."""
    return expected_figures(expected) if expected else ""
