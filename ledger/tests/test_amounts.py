from decimal import Decimal

import pytest

from ledger.amounts import display_ftns, format_ftns, to_units


def test_it_converts_ftns_to_units_exactly():
    assert to_units("12.5") == 12_500_000
    assert to_units(Decimal("0.000001")) == 1
    assert to_units(3) == 3_000_000


def test_it_refuses_amounts_finer_than_one_unit():
    with pytest.raises(ValueError, match="finer than 1 unit"):
        to_units("0.0000001")


@pytest.mark.parametrize("junk", ["abc", "NaN", "Infinity", None])
def test_it_refuses_what_is_not_an_amount(junk):
    with pytest.raises(ValueError):
        to_units(junk)


def test_it_shows_units_as_ftns():
    assert format_ftns(12_500_000) == "12.500000"
    assert format_ftns(-1) == "-0.000001"
    assert display_ftns(1_234_500_000) == "1,234.50"
    assert display_ftns(1) == "0.000001"
    assert display_ftns(0) == "0.00"
