"""The recommended price of a model being listed (docs/MARKETPLACE.md, "Recommended price").

The rule, in one sentence (``RULE``): start from the median buy price of at least three comparable
active listings in the model's category, or, with fewer, from three times what the job cost; scale it
by the model's retention (held to 50-100%) and by up to +50% for compression (+5% per whole x, up to
10x); never go below the job's cost; round half up to a hundredth of an FTNS. To rent: a fifth of that.

Every step is exact (``Fraction``) and the result is integer units; the seller may set any price.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ledger.amounts import UNITS_PER_FTNS

RULE = ("Recommended: the median buy price of 3 or more comparable listings in its category (or 3× the job's "
        "cost with fewer), times its retention (held to 50–100%), plus 5% per whole × of compression up to +50%, "
        "never under the job's cost, rounded to 0.01 FTNS; renting costs a fifth.")
MIN_COMPARABLE = 3
COST_MULTIPLE = 3
STEP = UNITS_PER_FTNS // 100  # prices are rounded to 0.01 FTNS
RENT_DIVISOR = 5


@dataclass(frozen=True)
class PriceAdvice:
    buy: int    # units
    rent: int   # units per rent period
    anchor: int  # units: the comparable median, or the cost multiple
    comparable: int  # how many comparable listings were counted


def median(prices: list[int]) -> int:
    """The median in whole units; of an even count, the mean of the middle two rounded down."""
    ordered = sorted(prices)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) // 2


def _round_to_step(amount: Fraction) -> int:
    return max(int(amount / STEP + Fraction(1, 2)) * STEP, STEP)


def _quality(retention: float | None, compression: float | None) -> Fraction:
    kept = Fraction(round((retention if retention is not None else 1) * 100), 100)
    kept = min(max(kept, Fraction(1, 2)), Fraction(1))
    times = min(max(int(compression or 0), 0), 10)
    return kept * (1 + Fraction(times, 20))


def price_advice(*, cost: int, retention: float | None, compression: float | None,
                 comparable_prices: list[int]) -> PriceAdvice:
    """The rule above: ``cost`` is the job's settled cost in units, ``comparable_prices`` the buy prices
    (units) of the active listings in the same category."""
    comparable = [price for price in comparable_prices if price]
    anchor = median(comparable) if len(comparable) >= MIN_COMPARABLE else COST_MULTIPLE * cost
    buy = max(Fraction(anchor) * _quality(retention, compression), Fraction(cost))
    buy_units = _round_to_step(buy)
    if buy_units < cost:  # rounding down must not cross the floor
        buy_units = -(-cost // STEP) * STEP
    return PriceAdvice(buy=buy_units, rent=_round_to_step(Fraction(buy_units, RENT_DIVISOR)), anchor=anchor,
                       comparable=len(comparable))
