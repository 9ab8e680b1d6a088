from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import pricing
from ledger.amounts import UNITS_PER_FTNS

weights = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.fractions(min_value=0, max_value=1000, max_denominator=10**4),
    st.floats(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False),
)
teacher_weights = st.lists(weights, min_size=1, max_size=12).filter(lambda ws: sum(map(pricing.exact_fraction, ws)) > 0)
prices = st.integers(min_value=0, max_value=10**15)


@given(price=prices, weights=teacher_weights)
def test_a_sale_splits_into_parts_that_sum_exactly_to_the_price(price, weights):
    split = pricing.revenue_split(price=price, teacher_weights=weights)
    assert split.total == price
    assert min(split.creator, split.platform, *split.teachers) >= 0
    assert split.platform == price * 10 // 100
    assert sum(split.teachers) == price * 20 // 100


@given(price=prices, weights=teacher_weights, share=st.fractions(min_value=0, max_value=Fraction(9, 10)))
def test_a_jobs_revenue_sharing_sets_the_teachers_share_and_the_parts_still_sum(price, weights, share):
    split = pricing.revenue_split(price=price, teacher_weights=weights, teacher_share=share)
    assert split.total == price
    assert sum(split.teachers) == int(price * share)
    assert split.creator >= 0


@given(total=st.integers(min_value=0, max_value=10**15), weights=teacher_weights)
def test_apportioned_parts_sum_to_the_total_and_stay_within_one_unit_of_their_quota(total, weights):
    parts = pricing.apportion(total, weights)
    exact = [pricing.exact_fraction(w) for w in weights]
    assert sum(parts) == total
    for part, w in zip(parts, exact):
        assert abs(part - total * w / sum(exact)) < 1


def test_the_remainder_goes_to_the_largest_fractions_and_ties_to_the_earlier_teacher():
    assert pricing.apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert pricing.apportion(200, [1, 2, 0.5]) == [57, 114, 29]


def test_the_split_is_seventy_twenty_ten():
    split = pricing.revenue_split(price=1000 * UNITS_PER_FTNS, teacher_weights=[3, 1])
    assert split.creator == 700 * UNITS_PER_FTNS
    assert split.teachers == (150 * UNITS_PER_FTNS, 50 * UNITS_PER_FTNS)
    assert split.platform == 100 * UNITS_PER_FTNS


def test_the_creator_gets_the_rounding_remainder_and_a_model_without_teachers_gets_the_teachers_pool():
    assert pricing.revenue_split(price=7, teacher_weights=[1]) == pricing.RevenueSplit(creator=6, teachers=(1,), platform=0)
    assert pricing.revenue_split(price=100, teacher_weights=[]) == pricing.RevenueSplit(creator=90, teachers=(), platform=10)


@pytest.mark.parametrize("share", [-0.1, 0.95])
def test_a_teachers_share_that_leaves_no_room_for_the_platform_is_refused(share):
    with pytest.raises(ValueError):
        pricing.revenue_split(price=100, teacher_weights=[1], teacher_share=share)


def test_weights_that_sum_to_nothing_are_refused():
    with pytest.raises(ValueError):
        pricing.apportion(100, [0, 0])


def test_job_costs_use_the_seeds_constants():
    cost = pricing.job_cost(teachers=2, compute_hours=Fraction(3, 2), validation_suites=1)
    assert (cost.base, cost.teacher_fees, cost.compute, cost.validation) == (
        100 * UNITS_PER_FTNS, (50 * UNITS_PER_FTNS,) * 2, 37_500_000, 30 * UNITS_PER_FTNS,
    )
    assert cost.total == 267_500_000


def test_compute_is_rounded_half_up_to_the_unit():
    assert pricing.job_cost(teachers=0, compute_hours=Fraction(1, 50_000_000), validation_suites=0).compute == 1
    assert pricing.job_cost(teachers=0, compute_hours=Fraction(1, 50_000_001), validation_suites=0).compute == 0
