"""Job economics and revenue sharing: the seed's constants live here and nowhere else.

Every function is pure integer/Fraction arithmetic on units, so the parts of a price always sum
exactly to the price (property-tested in tests/test_splits.py).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .amounts import UNITS_PER_FTNS

# The seed's job prices (PRSM's distillation cost model), in units.
BASE_FEE = 100 * UNITS_PER_FTNS
TEACHER_ACCESS_FEE = 50 * UNITS_PER_FTNS  # per teacher, paid to the teacher's owner
COMPUTE_HOUR_FEE = 25 * UNITS_PER_FTNS  # per measured compute hour
VALIDATION_SUITE_FEE = 30 * UNITS_PER_FTNS  # per validation suite run

# Marketplace sales: 70% to the model's creator, 20% to its teachers' owners, 10% to the platform.
CREATOR_SHARE = Fraction(70, 100)
TEACHER_SHARE = Fraction(20, 100)
PLATFORM_SHARE = Fraction(10, 100)

Weight = int | float | Decimal | Fraction


@dataclass(frozen=True)
class JobCost:
    base: int
    teacher_fees: tuple[int, ...]  # one per teacher, in the job's teacher order
    compute: int
    validation: int

    @property
    def total(self) -> int:
        return self.base + sum(self.teacher_fees) + self.compute + self.validation


def job_cost(*, teachers: int, compute_hours: Weight, validation_suites: int) -> JobCost:
    """The estimate (with estimated hours) and the actual cost (with measured hours) use this one rule.

    Compute is charged per unit of time, rounded half up to the nearest unit (10^-6 FTNS).
    """
    if teachers < 0 or validation_suites < 0 or compute_hours < 0:
        raise ValueError("teachers, compute hours and validation suites cannot be negative")
    compute = exact_fraction(compute_hours) * COMPUTE_HOUR_FEE
    return JobCost(
        base=BASE_FEE,
        teacher_fees=(TEACHER_ACCESS_FEE,) * teachers,
        compute=int(compute + Fraction(1, 2)),  # floor(x + 1/2): half up
        validation=validation_suites * VALIDATION_SUITE_FEE,
    )


def apportion(total: int, weights: Sequence[Weight]) -> list[int]:
    """Split ``total`` units in proportion to ``weights`` so that the parts sum exactly to ``total``.

    Largest-remainder (Hamilton) rule: every part gets the floor of its exact quota; the units
    left over (fewer than the number of parts) go one each to the parts with the largest
    fractional remainders, ties going to the earlier part in the given order.
    """
    exact = [exact_fraction(w) for w in weights]
    if not exact or any(w < 0 for w in exact) or sum(exact) == 0:
        raise ValueError("weights must be non-negative with a positive sum")
    whole = sum(exact)
    quotas = [total * w / whole for w in exact]
    parts = [q.numerator // q.denominator for q in quotas]
    leftover = total - sum(parts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return parts


@dataclass(frozen=True)
class RevenueSplit:
    creator: int
    teachers: tuple[int, ...]  # in the order of the teacher weights given
    platform: int

    @property
    def total(self) -> int:
        return self.creator + sum(self.teachers) + self.platform


def revenue_split(*, price: int, teacher_weights: Sequence[Weight] = (), teacher_share: Weight | None = None) -> RevenueSplit:
    """Split a sale's price between the creator, the teachers' owners and the platform.

    The platform gets floor(10% of the price); the teachers' pool is floor(share of the price),
    where the share is 20% unless the job's ``revenue_sharing`` sets it; the creator gets the rest,
    and so every rounding remainder of this level. The pool is then apportioned over the teacher
    weights by ``apportion`` (largest remainder, ties to the earlier teacher). A model with no
    teachers pays the teachers' pool to its creator.
    """
    if price < 0:
        raise ValueError("price cannot be negative")
    share = TEACHER_SHARE if teacher_share is None else exact_fraction(teacher_share)
    if not 0 <= share <= 1 - PLATFORM_SHARE:
        raise ValueError(f"the teachers' share must lie between 0 and {1 - PLATFORM_SHARE}")
    platform = _floor(price * PLATFORM_SHARE)
    pool = _floor(price * share) if teacher_weights else 0
    teachers = tuple(apportion(pool, teacher_weights)) if teacher_weights else ()
    return RevenueSplit(creator=price - platform - pool, teachers=teachers, platform=platform)


def exact_fraction(value: Weight) -> Fraction:
    """A float means the decimal it prints as (0.15 is 3/20, not the binary number nearest it)."""
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator
