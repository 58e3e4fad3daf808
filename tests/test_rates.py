"""Rates: 2020 base, wage indexation, announced rates, mileage by date, missing figures."""

import datetime as dt
import json
from decimal import Decimal as D

import pytest

from hjemmeprove.billing.rates import RateTable, WageIndexRow
from hjemmeprove.cli import main
from hjemmeprove.errors import MissingRate, ValidationError


def test_indexation_example_from_domain_md(app):
    app.rates.set_wage_index(2021, "2.0", "Finansministeriet (test)")
    r = app.rates.rates_on(dt.date(2021, 6, 1))
    assert r.per_referral == D("150.33")
    assert r.transport_time_per_km == D("5.26")
    assert r.mileage_per_km == D("3.44")  # shipped rate from 2021-01-01
    assert "2 %" in r.per_referral_source and not r.example


def test_base_year_and_rounding_each_year(app):
    r = app.rates.rates_on(dt.date(2020, 3, 1))
    assert (r.per_referral, r.transport_time_per_km, r.mileage_per_km) == (
        D("147.38"), D("5.16"), D("3.52"))
    app.rates.set_wage_index(2021, "2.0")
    app.rates.set_wage_index(2022, "2.3")
    # 2022 is indexed from the rounded 2021 figure, not from 2020
    assert app.rates.rates_on(dt.date(2022, 1, 1)).per_referral == D("153.79")  # 150.33*1.023


def test_announced_rate_wins_and_is_the_base_for_next_year(app):
    app.rates.set_wage_index(2021, "2.0")
    app.rates.set_wage_index(2022, "10")
    app.rates.set_announced(2021, "per_referral", "150.00", "KL-cirkulære (test)")
    r21 = app.rates.rates_on(dt.date(2021, 2, 1))
    assert r21.per_referral == D("150.00") and r21.transport_time_per_km == D("5.26")
    assert app.rates.rates_on(dt.date(2022, 2, 1)).per_referral == D("165.00")


def test_missing_wage_index_refused_naming_year_and_figure(app):
    app.rates.set_wage_index(2021, "2.0")
    with pytest.raises(MissingRate) as e:
        app.rates.rates_on(dt.date(2024, 3, 1))
    assert e.value.when == 2022  # the earliest missing year, never 0 % assumed
    assert "fremskrivningsprocent" in str(e.value) and "2022" in str(e.value)


def test_mileage_by_effective_date_within_a_year(app):
    for year in range(2021, 2027):
        app.rates.set_wage_index(year, "2.0")
    assert app.rates.rates_on(dt.date(2022, 4, 30)).mileage_per_km == D("3.51")
    assert app.rates.rates_on(dt.date(2022, 5, 1)).mileage_per_km == D("3.70")
    app.rates.set_mileage(dt.date(2026, 7, 1), "4.01", "test")
    assert app.rates.rates_on(dt.date(2026, 6, 30)).mileage_per_km == D("3.94")
    assert app.rates.rates_on(dt.date(2026, 7, 1)).mileage_per_km == D("4.01")


def test_no_mileage_rate_before_the_first_one():
    table = RateTable([], [], [])
    with pytest.raises(MissingRate) as e:
        table.rates_on(dt.date(2020, 5, 1))
    assert "statens høje takst" in str(e.value)


def test_example_percentages_are_labelled():
    table = RateTable([WageIndexRow(2021, D("2.0"), "EKSEMPEL", True)], [],
                      [])
    p, src, example = table.year_rate(2021, "per_referral")
    assert p == D("150.33") and example and src.startswith("EKSEMPEL")


@pytest.mark.parametrize("year,percent,field", [
    (2020, "2.0", "år"), (2021, "abc", "procent"), (2021, "75", "procent"), ("x", "1", "år")])
def test_bad_input_names_the_field(app, year, percent, field):
    with pytest.raises(ValidationError) as e:
        app.rates.set_wage_index(year, percent)
    assert field in e.value.fields


def test_cli_rates_show_json_and_refusal(app, capsys):
    url = app.store.url
    assert main(["--db", url, "rates", "set", "wage-index", "--year", "2021", "2.0"]) == 0
    capsys.readouterr()
    assert main(["--db", url, "rates", "show", "--date", "2021-03-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("date", "per_referral", "transport_time_per_km",
                                "mileage_per_km")} == {
        "date": "2021-03-01", "per_referral": "150.33", "transport_time_per_km": "5.26",
        "mileage_per_km": "3.44"}
    assert main(["--db", url, "rates", "show", "--date", "2023-03-01", "--json"]) == 2
    err = capsys.readouterr().err
    assert "fremskrivningsprocent" in err and "2022" in err
    assert main(["--db", url, "rates", "set", "per-referral", "--year", "2022", "160.00"]) == 0
    assert main(["--db", url, "rates", "set", "mileage", "--from", "2026-07-01", "4.01"]) == 0


def test_cli_saves_an_unusual_wage_index_and_warns_as_the_window_asks(app, capsys):
    """35 for 3,5 raises every price of the year: the window asks for a yes; the command
    line saves (scripts keep working) and says the same on stderr."""
    url = app.store.url
    assert main(["--db", url, "rates", "set", "wage-index", "--year", "2021", "35"]) == 0
    cap = capsys.readouterr()
    assert "fremskrivningsprocent for 2021: 35 %" in cap.out
    assert "advarsel: Fremskrivningen er 35,00 %, uden for det sædvanlige 0–10 %" in cap.err
    assert "advarsel: Der er ingen kilde" in cap.err
    assert main(["--db", url, "rates", "set", "wage-index", "--year", "2021", "2.0",
                 "--source", "KL cirkulære 2020"]) == 0
    assert capsys.readouterr().err == ""
