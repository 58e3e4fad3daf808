"""Largest-remainder allocation of a route's km and ferry minutes."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hjemmeprove.billing.allocation import VisitWeight, allocate_route, largest_remainder


def test_equal_split_adds_up_exactly():
    parts = largest_remainder(D("10"), [D(1)] * 3, 3)
    assert parts == [D("3.334"), D("3.333"), D("3.333")]
    assert sum(parts) == D("10")


@given(total=st.decimals(min_value=0, max_value=2000, places=3),
       weights=st.lists(st.decimals(min_value=0, max_value=300, places=3), min_size=1,
                        max_size=30))
def test_shares_always_add_up_exactly_and_stay_within_one_unit(total, weights):
    parts = largest_remainder(total, weights, 3)
    assert sum(parts) == total
    wsum = sum(weights)
    for w, p in zip(weights, parts):
        exact = total * w / wsum if wsum else total / len(weights)
        assert abs(p - exact) < D("0.001")
        assert p == p.quantize(D("0.001"))


def test_standalone_weights_and_ferry_only_to_ferry_visits():
    visits = [VisitWeight(1, D("10"), ""), VisitWeight(2, D("20"), "Svendborg–Ærøskøbing"),
              VisitWeight(3, D("30"), "Svendborg–Ærøskøbing")]
    a = allocate_route(D("84.3"), D("45"), visits)
    assert a.rule == "standalone" and a.note == ""
    assert [(s.km, s.ferry_minutes) for s in a.shares] == [
        (D("14.050"), D("0")), (D("28.100"), D("18.0")), (D("42.150"), D("27.0"))]


def test_equal_rule():
    a = allocate_route(D("50"), D("0"), [VisitWeight(i, D(i)) for i in (1, 2, 3)], "equal")
    assert [s.km for s in a.shares] == [D("16.667"), D("16.667"), D("16.666")]


def test_missing_standalone_falls_back_to_equal_and_says_so():
    a = allocate_route(D("30"), D("0"), [VisitWeight(1, D("10")), VisitWeight(2, None)])
    assert a.rule == "equal" and "ligelig" in a.note
    assert [s.km for s in a.shares] == [D("15.000"), D("15.000")]


def test_locked_shares_kept_rest_allocated_so_route_still_adds_up():
    visits = [VisitWeight(1, D("10"), locked_km=D("20.000"), locked_ferry=D("0")),
              VisitWeight(2, D("10")), VisitWeight(3, D("30"))]
    a = allocate_route(D("60"), D("0"), visits)  # the odometer said more than planned
    assert [s.km for s in a.shares] == [D("20.000"), D("10.000"), D("30.000")]
    assert sum(s.km for s in a.shares) == D("60")


def test_unknown_rule_refused():
    with pytest.raises(ValueError):
        allocate_route(D("1"), D("0"), [VisitWeight(1, D("1"))], "random")
