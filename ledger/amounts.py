"""FTNS amounts: integers in the smallest unit everywhere; FTNS only at the edges (API, pages, CSV)."""

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

UNITS_PER_FTNS = 1_000_000
FTNS_DECIMALS = 6

# The one written form of an amount: ASCII digits, then an optional point and decimals ("12.5"); the
# decimals are counted by whoever reads it (at most six). Decimal() alone also reads "٣", "１",
# "1_000", "1e3", "NaN" and padding, each a different number to some other reader of the same text.
AMOUNT_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
AMOUNT_FORM = 'Write FTNS as ASCII digits with an optional point and at most six decimals, e.g. "12.5", or as a JSON number.'


def to_units(ftns: Decimal | int | str | Fraction) -> int:
    """FTNS -> units, exactly; refuses anything finer than one unit (never rounds money silently), and
    text in any form but ``AMOUNT_TEXT``."""
    if isinstance(ftns, bool) or (isinstance(ftns, str) and not AMOUNT_TEXT.fullmatch(ftns)):
        raise ValueError(f"not an amount: {ftns!r}. {AMOUNT_FORM}")
    try:
        value = Fraction(Decimal(ftns) if isinstance(ftns, str) else ftns)
    except (InvalidOperation, ValueError, TypeError, OverflowError):
        raise ValueError(f"not an amount: {ftns!r}") from None
    units = value * UNITS_PER_FTNS
    if units.denominator != 1:
        raise ValueError(f"{ftns} FTNS is finer than 1 unit (10^-{FTNS_DECIMALS} FTNS)")
    return int(units)


def to_ftns(units: int) -> Decimal:
    return Decimal(units).scaleb(-FTNS_DECIMALS).quantize(Decimal(1).scaleb(-FTNS_DECIMALS))


def format_ftns(units: int) -> str:
    """The API's form: a decimal string with all six places, e.g. ``"12.500000"``."""
    return f"{to_ftns(units):f}"


def display_ftns(units: int) -> str:
    """The pages' form: thousands separators, at least two places, no trailing zeros beyond."""
    text = f"{to_ftns(units):,f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"
