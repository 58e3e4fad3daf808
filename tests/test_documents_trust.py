"""What a municipality receives, checked as its finance officer would: valid addressing,
statements whose lines and route shares can be matched and recomputed, minimal personal data
by default, and documents that formula or markup names cannot turn against their reader."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
from dataclasses import replace
from decimal import Decimal as D

import pytest
from sqlalchemy import select, update

from hjemmeprove.cli import main
from hjemmeprove.db.models import Agreement, Invoice, Municipality, Request, Visit
from hjemmeprove.documents import citizen_letter, csvsafe, reply, route_sheet
from hjemmeprove.domain.ean import check_digit, ean_problem, with_check_digit
from hjemmeprove.errors import ValidationError
from hjemmeprove.services.admin import AdminService
from tests.factories import request_values
from tests.test_invoice_fixtures import add_route, set_2020_rates

MARCH = "2020-03"
MARKUP = '<img src="/etc/passwd"/>'
FORMULAS = ['=HYPERLINK("http://evil.invalid","Klik")', "-2+3", "@SUM(A1:A9)", "+45 1234",
            "\tTAB", "\rCR"]


def pdf_text(data: bytes, tmp_path, name="x.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def pdf_pages(data: bytes, tmp_path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                          check=True).stdout
    return int(next(ln.split()[-1] for ln in info.splitlines() if ln.startswith("Pages:")))


def csv_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def set_agreement(app, code, **values):
    with app.store.session() as s:
        ag = s.scalar(select(Agreement).join(Municipality).where(Municipality.code == code))
        for k, v in values.items():
            setattr(ag, k, v)


def set_municipality(app, code, **values):
    with app.store.session() as s:
        s.execute(update(Municipality).where(Municipality.code == code).values(**values))


def shared_route(app, names=("Anna Holm", "Bent Vig", "Carl Ry")):
    """One route shared by Svendborg (two visits) and Faaborg-Midtfyn (one), 30 km; Svendborg's
    referrals carry their own references."""
    set_2020_rates(app)
    rid = add_route(app, dt.date(2020, 3, 10),
                    [dict(code=479, standalone="10", name=names[0]),
                     dict(code=430, standalone="10", name=names[1]),
                     dict(code=479, standalone="10", name=names[2])], km="30")
    with app.store.session() as s:
        reqs = {v.request_id: s.get(Request, v.request_id)
                for v in s.scalars(select(Visit).where(Visit.route_id == rid))}
        for i, req in enumerate(sorted(reqs.values(), key=lambda r: r.id)):
            if req.municipality.code == 479:
                req.municipality_reference = f"SVB-{i + 1}"
    return rid


def request_ids(app, rid, code):
    with app.store.session() as s:
        return sorted(r.id for r in s.scalars(
            select(Request).join(Visit, Visit.request_id == Request.id)
            .join(Municipality, Request.municipality_id == Municipality.id)
            .where(Visit.route_id == rid, Municipality.code == code)))


# --- valid addressing -------------------------------------------------------------------------

def test_gs1_check_digit():
    assert check_digit("579800000001") == 8
    assert with_check_digit("400638133393") == "4006381333931"  # GS1's own example
    assert ean_problem("4006381333931") is None
    assert "kontrolciffer" in ean_problem("4006381333932")
    assert "13 cifre" in ean_problem("12345")
    assert ean_problem("") == "mangler"


def test_wrong_ean_check_digit_refused_in_settings(department_app):
    admin = AdminService(department_app.store)
    odense = next(m for m in admin.list_municipalities() if m.code == 461)
    with pytest.raises(ValidationError) as e:
        admin.save_municipality(replace(odense, ean="5798000000125"))
    assert "EAN" in e.value.fields and "kontrolciffer" in str(e.value)
    ag = next(a for a in admin.list_agreements() if a.municipality_name == "Svendborg")
    with pytest.raises(ValidationError) as e:
        admin.save_agreement(replace(ag, invoice_ean="5798000004796"))
    assert "faktura-EAN" in e.value.fields
    dept = admin.list_departments()[0]
    with pytest.raises(ValidationError) as e:
        admin.save_department(replace(dept, ean="5798000000013"))
    assert "EAN" in e.value.fields
    admin.save_municipality(replace(odense, ean="5798000000124"))  # a valid one is kept
    assert next(m for m in admin.list_municipalities() if m.code == 461).ean == "5798000000124"


def test_wrong_ean_refused_at_issue_and_no_number_taken(department_app):
    app = department_app
    shared_route(app)
    set_agreement(app, 479, invoice_ean="5798000004796")  # last digit wrong (5 is right)
    with pytest.raises(ValidationError) as e:
        app.billing.run(MARCH, issue=True, issue_date=dt.date(2020, 4, 1))
    assert "EAN" in e.value.fields and "kontrolciffer" in str(e.value)
    assert all(i.number is None for i in app.billing.list_invoices(MARCH))


def test_buyer_without_postal_address_refused_at_issue(department_app):
    app = department_app
    shared_route(app)
    set_municipality(app, 430, postcode="", city="")
    drafts = {d.municipality_code: d for d in app.billing.run(MARCH)}
    with pytest.raises(ValidationError) as e:
        app.billing.issue(drafts[430].id, issue_date=dt.date(2020, 4, 1))
    assert {"postnr", "by"} <= set(e.value.fields)
    assert app.billing.get(drafts[430].id).number is None
    assert app.billing.issue(drafts[479].id, issue_date=dt.date(2020, 4, 1)).number == 1


def test_vat_text_names_its_legal_basis(department_app, tmp_path):
    app = department_app
    shared_route(app)
    d = {b.municipality_code: b for b in app.billing.run(MARCH)}[479]
    basis = "momsloven § 13, stk. 1, nr. 1"
    assert basis in pdf_text(app.billing.document(d.id, "invoice_pdf"), tmp_path)
    assert basis in app.billing.document(d.id, "statement_csv").decode("utf-8-sig")
    # a draft has no OIOUBL file (never sendable): check the renderer on the draft's data
    from hjemmeprove.documents import einvoice
    assert basis in einvoice.render(app.billing.document_data(d.id)).decode()


# --- statements a municipality can check -----------------------------------------------------

def test_statement_lines_carry_referral_numbers_references_and_route_shares(department_app,
                                                                            tmp_path):
    app = department_app
    rid = shared_route(app)
    drafts = {d.municipality_code: d for d in app.billing.run(MARCH)}
    inv = app.billing.issue(drafts[479].id, issue_date=dt.date(2020, 4, 1))
    rows = csv_cells(app.billing.document(inv.id, "statement_csv"))
    head = rows[1]
    visits = [dict(zip(head, r)) for r in rows[2:4]]
    assert [int(v["henvisning"]) for v in visits] == request_ids(app, rid, 479)
    assert [v["kommunens_reference"] for v in visits] == ["SVB-1", "SVB-3"]
    assert all(v["rute"] == str(rid) for v in visits)
    route_head = next(i for i, r in enumerate(rows) if r[:1] == ["rute"])
    route = dict(zip(rows[route_head], rows[route_head + 1]))
    assert route["rute_km"] == "30,000" and route["besoeg_paa_ruten"] == "3"
    assert route["heraf_kommunens"] == "2" and route["kommunens_km_andel"] == "20,000"
    assert route["delt"] == "ja"
    text = pdf_text(app.billing.document(inv.id, "statement_pdf"), tmp_path)
    assert "Ruter og jeres andel" in text and f"Rute {rid}" in text and "30,000" in text
    for n in request_ids(app, rid, 479):
        assert str(n) in text
    assert "SVB-1" in text and "I alt at betale" in text  # the totals box


def test_statement_shows_minimal_personal_data_by_default(department_app, tmp_path):
    app = department_app
    shared_route(app)
    d = {b.municipality_code: b for b in app.billing.run(MARCH)}[479]
    text = pdf_text(app.billing.document(d.id, "statement_pdf"), tmp_path)
    data = app.billing.document(d.id, "statement_csv").decode("utf-8-sig")
    for shown in (text, data):
        assert "Anna Holm" not in shown and "Carl Ry" not in shown and "XXXX" not in shown
    assert "kun henvisningsnummer" in data
    set_agreement(app, 479, statement_personal_data="name_cpr")
    d = {b.municipality_code: b for b in app.billing.run(MARCH)}[479]
    text = pdf_text(app.billing.document(d.id, "statement_pdf"), tmp_path)
    assert "Anna Holm" in text and "-XXXX" in text
    set_agreement(app, 479, statement_personal_data="name")
    d = {b.municipality_code: b for b in app.billing.run(MARCH)}[479]
    text = pdf_text(app.billing.document(d.id, "statement_pdf"), tmp_path)
    assert "Anna Holm" in text and "XXXX" not in text


def test_statement_terms_are_stored_as_rows_and_the_reason_apart(department_app):
    app = department_app
    shared_route(app)
    d = {b.municipality_code: b for b in app.billing.run(MARCH)}[479]
    inv = app.billing.issue(d.id, issue_date=dt.date(2020, 4, 1))
    cn = app.billing.credit_note(inv.id, "Forkert: udfald", issue_date=dt.date(2020, 4, 2))
    with app.store.session() as s:
        terms = s.get(Invoice, inv.id).terms
        assert terms[0][0] == "Fordeling af ruters km og færgetid" and len(terms[0]) == 2
        credit = s.get(Invoice, cn.id)
        assert credit.credit_reason == "Forkert: udfald" and credit.terms == terms
    assert app.billing.document_data(cn.id).reason == "Forkert: udfald"


# --- injection-safe documents ----------------------------------------------------------------

def test_csv_neutralises_formula_text_but_keeps_numbers():
    buf = io.StringIO()
    csvsafe.writer(buf).writerow(FORMULAS + [csvsafe.number(D("-12.5"), 2), -3, D("-1.25"),
                                             "Anna"])
    cells = next(csv.reader(io.StringIO(buf.getvalue()), delimiter=";"))
    assert cells[:6] == ["'" + f for f in FORMULAS]
    assert cells[6:] == ["-12,50", "-3", "-1.25", "Anna"]


def _assert_no_formula(rows):
    for row in rows:
        for cell in row:
            if cell[:1] in ("=", "+", "@", "\t", "\r") or (
                    cell[:1] == "-" and not cell.replace(",", "").lstrip("-").isdigit()):
                pytest.fail(f"formula cell {cell!r} in {row}")


def test_formula_names_neutralised_in_every_csv(department_app, capsys):
    app = department_app
    set_2020_rates(app)
    rid = add_route(app, dt.date(2020, 3, 10),
                    [dict(code=479, name=f) for f in FORMULAS], km="30")
    set_agreement(app, 479, statement_personal_data="name_cpr", reference="=1+1")
    with app.store.session() as s:
        for v in s.scalars(select(Visit).where(Visit.route_id == rid)):
            s.get(Request, v.request_id).municipality_reference = "@SUM(1)"
    (d,) = app.billing.run(MARCH)
    rows = csv_cells(app.billing.document(d.id, "statement_csv"))
    _assert_no_formula(rows)
    assert ["'" + f for f in FORMULAS[:4]] == [r[3] for r in rows[2:6]]
    # replies
    app.requests.create(request_values(name='=HYPERLINK("x")', address="-2+3 Vej"),
                        today=dt.date(2024, 3, 1))
    result = app.planning.plan(dt.date(2024, 3, 4), dt.date(2024, 3, 4), time_limit_s=1.0)
    assert result.routes
    rows_ = app.planning.send_replies(dt.date(2024, 3, 4), dt.date(2024, 3, 4),
                                      now=dt.datetime(2024, 3, 1, 14))
    cells = csv_cells(reply.render_csv(rows_))
    _assert_no_formula(cells)
    assert "'=HYPERLINK(\"x\")" in cells[1]
    # the follow-up statistics (CLI)
    set_municipality(app, 479, name="@SUM(A1)")
    assert main(["--db", app.store.url, "stats", "--year", "2024", "--csv"]) == 0
    out = capsys.readouterr().out
    cells = list(csv.reader(io.StringIO(out), delimiter=";"))
    _assert_no_formula(cells)
    assert any("'@SUM(A1)" in r for r in cells)


def test_markup_name_prints_literally_in_every_pdf(department_app, tmp_path):
    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(code=479, name=MARKUP)], km="10")
    set_agreement(app, 479, statement_personal_data="name", reference=MARKUP,
                  person_reference=MARKUP)
    set_municipality(app, 479, contact_name=MARKUP)
    (d,) = app.billing.run(MARCH)
    inv = app.billing.issue(d.id, issue_date=dt.date(2020, 4, 1))
    cn = app.billing.credit_note(inv.id, MARKUP, issue_date=dt.date(2020, 4, 2))
    pdfs = {f"{kind}-{i.id}": app.billing.document(i.id, kind)
            for i in (inv, cn) for kind in ("invoice_pdf", "statement_pdf")}
    app.requests.create(request_values(name=MARKUP, access_info=MARKUP, note=MARKUP,
                                       presence_required=MARKUP),
                        today=dt.date(2024, 3, 1))
    day = dt.date(2024, 3, 4)
    result = app.planning.plan(day, day, time_limit_s=1.0)
    name, _h, lab = app.planning.department_header()
    pdfs["route_sheet"] = route_sheet.render(result.routes[0], name, lab)
    pdfs["letter"] = citizen_letter.render_many(app.planning.letters(day, written=day))
    rows = app.planning.send_replies(day, day, now=dt.datetime(2024, 3, 1, 14))
    pdfs["reply"] = reply.render_pdf(rows, MARKUP)
    for kind, data in pdfs.items():
        text = pdf_text(data, tmp_path)
        assert MARKUP in text.replace("\n", ""), kind
        assert b"/passwd" not in data.replace(b"/etc/passwd", b"") or b"/XObject" not in data, kind


def test_long_notes_flow_to_the_next_page(department_app, tmp_path):
    app = department_app
    # as long as a request's note may be (2000 characters), in the narrow column
    long_note = (" ".join(f"Linje {i}: nøglen ligger under måtten ved bagdøren." for i in
                          range(38)) + " Slut på bemærkningen.")[-2000:]
    assert len(long_note) <= 2000
    app.requests.create(request_values(note=long_note, access_info=long_note),
                        today=dt.date(2024, 3, 1))
    day = dt.date(2024, 3, 4)
    result = app.planning.plan(day, day, time_limit_s=1.0)
    name, _h, lab = app.planning.department_header()
    sheet = route_sheet.render(result.routes[0], name, lab)
    assert pdf_pages(sheet, tmp_path) >= 2
    assert "Slut på bemærkningen" in pdf_text(sheet, tmp_path)
    letters = app.planning.letters(day, written=day)
    letter = citizen_letter.render_many([replace(letters[0], presence_required=long_note)])
    assert pdf_pages(letter, tmp_path) >= 2
    # the statement: a long note among its terms
    shared_route(app)
    d = {b.municipality_code: b for b in app.billing.run(MARCH)}[479]
    with app.store.session() as s:
        inv = s.get(Invoice, d.id)
        inv.terms = list(inv.terms) + [["Bemærkning", long_note * 3]]
    statement = app.billing.document(d.id, "statement_pdf")
    assert pdf_pages(statement, tmp_path) >= 2
    assert "Slut på bemærkningen" in pdf_text(statement, tmp_path)


def test_a_long_credit_reason_flows_on_the_credit_note(department_app, tmp_path):
    app = department_app
    shared_route(app)
    d = {b.municipality_code: b for b in app.billing.run(MARCH)}[479]
    inv = app.billing.issue(d.id, issue_date=dt.date(2020, 4, 1))
    reason = " ".join(f"Punkt {i}: udfaldet var registreret forkert." for i in range(160))
    cn = app.billing.credit_note(inv.id, reason + " Slut.", issue_date=dt.date(2020, 4, 2))
    for kind in ("invoice_pdf", "statement_pdf"):
        data = app.billing.document(cn.id, kind)
        assert pdf_pages(data, tmp_path) >= 2, kind
        assert "Slut." in pdf_text(data, tmp_path), kind
