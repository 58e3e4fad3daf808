"""The fee model of docs/domain.md, exactly (pure functions)."""

import datetime as dt
from decimal import Decimal as D

import pytest

from hjemmeprove.billing.fees import LineRates, Quantities, invoice_lines, quote, round2, total

R2020 = LineRates(D("147.38"), D("5.16"), D("3.52"))


def test_worked_example_from_domain_md():
    lines, tot = quote(Quantities(referrals=10, km=D("84.3")), R2020)
    assert [(ln.text, ln.quantity, ln.rate, ln.amount) for ln in lines] == [
        ("Faste priser pr. henvisning", D(10), D("147.38"), D("1473.80")),
        ("Transporttid, kørsel", D("84.3"), D("5.16"), D("434.99")),
        ("Kørsel (statens høje takst)", D("84.3"), D("3.52"), D("296.74")),
    ]
    assert tot == D("2205.53")


def test_round2_is_half_up_not_bankers():
    assert round2(D("434.985")) == D("434.99")
    assert round2(D("0.125")) == D("0.13")
    assert round2(D("2.675")) == D("2.68")  # float would give 2.67
    with pytest.raises(TypeError):
        round2(2.675)


def test_ferry_line_uses_transport_rate_per_km_equivalent():
    lines, tot = quote(Quantities(1, D("41.38"), D("45.0")), R2020)
    ferry = [ln for ln in lines if ln.code == "ferry"][0]
    assert ferry.amount == round2(D("45.0") * D("5.16")) == D("232.20")
    # at 50 km/h a ferry minute is 50/60 km-equivalent
    lines50 = invoice_lines([(Quantities(1, D("41.38"), D("45.0")), R2020)],
                            ferry_speed_kmh=D("50"))
    assert [ln for ln in lines50 if ln.code == "ferry"][0].amount == D("193.50")


def test_ekg_line_only_with_price_and_ekgs():
    q = Quantities(3, D("10"), ekg=2)
    assert not [ln for ln in invoice_lines([(q, R2020)]) if ln.code == "ekg"]
    lines = invoice_lines([(q, R2020)], ekg_price=D("95.00"))
    assert [(ln.quantity, ln.amount) for ln in lines if ln.code == "ekg"] == [(D(2), D("190.00"))]
    none = invoice_lines([(Quantities(3, D("10")), R2020)], ekg_price=D("95.00"))
    assert not [ln for ln in none if ln.code == "ekg"]


def test_month_spanning_a_mileage_change_gets_two_mileage_lines_rounded_separately():
    before = LineRates(D("155.00"), D("5.43"), D("3.51"), dt.date(2022, 1, 1))
    after = LineRates(D("155.00"), D("5.43"), D("3.70"), dt.date(2022, 5, 1))
    lines = invoice_lines([(Quantities(4, D("30.005")), before),
                           (Quantities(6, D("50.005")), after)])
    per_ref = [ln for ln in lines if ln.code == "per_referral"]
    km = [ln for ln in lines if ln.code == "transport_km"]
    mileage = [ln for ln in lines if ln.code == "mileage"]
    assert len(per_ref) == 1 and per_ref[0].quantity == 10
    assert len(km) == 1 and km[0].quantity == D("80.010")  # same T: one line, summed first
    assert [(m.rate, m.quantity, m.amount) for m in mileage] == [
        (D("3.51"), D("30.005"), D("105.32")), (D("3.70"), D("50.005"), D("185.02"))]
    assert "01.05.2022" in mileage[1].text
    assert total(lines) == sum(ln.amount for ln in lines)


def test_zero_lines_are_left_out():
    lines = invoice_lines([(Quantities(0, D("12.5")), R2020)])
    assert [ln.code for ln in lines] == ["transport_km", "mileage"]


def test_cli_fees_quote_worked_example(app, capsys):
    import json

    from hjemmeprove.cli import main

    url = app.store.url
    assert main(["--db", url, "fees", "quote", "--date", "2020-03-15", "--referrals", "10",
                 "--km", "84.3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == "2205.53"
    assert [(ln["text"], ln["quantity"], ln["rate"], ln["amount"]) for ln in out["lines"]] == [
        ("Faste priser pr. henvisning", "10", "147.38", "1473.80"),
        ("Transporttid, kørsel", "84.3", "5.16", "434.99"),
        ("Kørsel (statens høje takst)", "84.3", "3.52", "296.74")]
    assert main(["--db", url, "fees", "quote", "--date", "2020-03-15", "--referrals", "ti",
                 "--km", "-2", "--ferry-minutes", "1.25"]) == 2
    err = capsys.readouterr().err
    assert "referrals" in err and "km" in err and "ferry-minutes" in err
    assert main(["--db", url, "fees", "quote", "--date", "2023-03-15", "--referrals", "1",
                 "--km", "1"]) == 2
    assert "fremskrivningsprocent" in capsys.readouterr().err
