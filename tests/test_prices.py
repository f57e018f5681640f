"""Prices per million tokens: checked when made, what a request costs, and how an amount shows."""

from __future__ import annotations

import math

import pytest

from labsupport.prices import PRICES, Prices, format_cost


def test_a_request_costs_both_counts_at_their_rates() -> None:
    assert Prices(1.0, 2.0).cost(1_000_000, 500_000) == 2.0
    assert Prices(0.5, 1.5).cost(0, 0) == 0.0


@pytest.mark.parametrize(
    ("rates", "problem"),
    [
        ((-1.0, 0.0), "input_per_million must be a non-negative number, got -1.0"),
        ((0.0, math.nan), "output_per_million must be a non-negative number, got nan"),
        ((0.0, "1"), "output_per_million must be a non-negative number, got '1'"),
    ],
    ids=["negative", "nan", "text"],
)
def test_a_bad_rate_is_refused_by_name(rates: tuple[object, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Prices(*rates)


def test_the_mock_models_are_priced_cheap_and_large() -> None:
    assert set(PRICES) == {"lab-mock-1", "lab-mock-large"}
    small, large = PRICES["lab-mock-1"], PRICES["lab-mock-large"]
    assert small.cost(1000, 1000) < large.cost(1000, 1000)


def test_format_cost_shows_fractions_of_a_cent() -> None:
    assert format_cost(0.0000985) == "$0.0000985"
    assert format_cost(0.5) == "$0.5"
    assert format_cost(0) == "$0.0"
