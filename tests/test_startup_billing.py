"""The billing run's hot spots, made cheaper without changing what the documents say."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from babel.numbers import format_decimal

from hjemmeprove.documents.common import number


def _babel(value, decimals: int) -> str:
    fmt = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(Decimal(str(value)), format=fmt, locale="da_DK")


EDGES = [0, Decimal("-0"), -0.0, Decimal("0.005"), Decimal("0.015"), Decimal("0.025"),
         Decimal("2.5"), Decimal("3.5"), Decimal("-2.5"), Decimal("-0.004"), Decimal("0.0005"),
         Decimal("1234567.125"), Decimal("-1234.5"), Decimal("1E+3"), Decimal("999.9995"),
         Decimal("123456789.9999"), 1.005, 2.675, 10, -10, 84.3, Decimal("84.300")]


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, 4])
def test_danish_numbers_are_what_babel_writes(decimals):
    rng = random.Random(decimals)
    values = EDGES + [Decimal(rng.randrange(-10**9, 10**9)) / 10 ** rng.randrange(0, 6)
                      for _ in range(2000)] + [rng.uniform(-1e6, 1e6) for _ in range(500)]
    for value in values:
        assert number(value, decimals) == _babel(value, decimals), (value, decimals)


def test_a_statements_free_text_wraps_only_when_it_must():
    from reportlab.platypus import Paragraph

    from hjemmeprove.documents.common import styles
    from hjemmeprove.documents.statement import _text_cell

    small = styles()["Small"]
    assert _text_cell("Borger 12 Ærøsen", small, 150) == "Borger 12 Ærøsen"
    assert _text_cell(None, small, 150) == ""
    assert _text_cell("<b>ikke fed</b>", small, 150) == "<b>ikke fed</b>"  # drawn as written
    long = "Hjemmesygeplejen Vest, team 4, att. koordinerende sygeplejerske " * 2
    cell = _text_cell(long, small, 150)
    assert isinstance(cell, Paragraph)
    assert "&lt;" in _text_cell("<" + long, small, 150).text  # escaped where it is markup
