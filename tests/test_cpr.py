import datetime as dt

import pytest

from hjemmeprove.domain.cpr import mask_cpr, mask_cpr_in_text, parse_cpr


@pytest.mark.parametrize("value, born", [
    ("010150-1234", dt.date(1950, 1, 1)),
    ("0101501234", dt.date(1950, 1, 1)),
    ("290224-4001", dt.date(2024, 2, 29)),  # 7th digit 4, yy<=36: 2000s; leap day
    ("311299-9999", dt.date(1999, 12, 31)),  # 7th digit 9, yy>36: 1900s
    ("010160-5000", dt.date(1860, 1, 1)),  # 7th digit 5-8, yy>57: 1800s
])
def test_valid_cpr_and_birth_date(value, born):
    assert parse_cpr(value)[1] == born


def test_modulus_11_is_not_required():
    # 010150-1234 fails modulus 11 (weighted sum 4*0+3*1+...): numbers since 2007 need not pass
    digits = [0, 1, 0, 1, 5, 0, 1, 2, 3, 4]
    assert sum(d * w for d, w in zip(digits, [4, 3, 2, 7, 6, 5, 4, 3, 2, 1])) % 11 != 0
    assert parse_cpr("010150-1234")[0] == "010150-1234"


@pytest.mark.parametrize("value, fragment", [
    ("310250-1234", "gyldig fødselsdato"),  # 31 February
    ("290223-1234", "gyldig fødselsdato"),  # 1923 is not a leap year
    ("12345", "10 cifre"),
    ("01015O-1234", "10 cifre"),
    ("010130-4999", "fremtiden"),  # 7th digit 4, yy 30 -> 2030
])
def test_invalid_cpr(value, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_cpr(value)


def test_masking():
    assert mask_cpr("010150-1234") == "010150-XXXX"
    assert mask_cpr_in_text("fejl for 0101501234 og 020260-4321") == \
        "fejl for 010150-XXXX og 020260-XXXX"
