from django import template

from ledger.amounts import display_ftns

register = template.Library()


@register.filter
def ftns(units: int) -> str:
    return display_ftns(units)
