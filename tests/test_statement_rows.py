"""The statement's long tables (``documents/rowtable.py``): every visit and route on some
page, the header on every page, the total once at the end, long texts wrapped in their
column, a row taller than a page still printed (the LongTable fallback), text printed as
text (no markup)."""

from __future__ import annotations

import datetime as dt
import subprocess
from decimal import Decimal

from hjemmeprove.documents import statement
from hjemmeprove.documents.model import DocLine, InvoiceDoc, ItemRow, Party, RouteRow
from hjemmeprove.documents.rowtable import RowTable

MARKUP = '<b>fed</b> & <img src="/etc/passwd"/> (parentes) \\ skråstreg'


def _doc(n: int, personal_data: str = "referral", reference=lambda i: "", name=lambda i: ""):
    day = dt.date(2026, 10, 1)
    items = [ItemRow(visit_id=i, date=day + dt.timedelta(days=i % 28), citizen_name=name(i),
                     cpr="010203-xxxx", outcome="taken" if i % 5 else "not_home",
                     billable=bool(i % 5), km_share=Decimal("12.345"),
                     ferry_share=Decimal("70.0") if i % 9 == 0 else Decimal(0),
                     km_planned=i % 7 == 0, ekg=i % 11 == 0, request_id=10000 + i,
                     municipality_reference=reference(i), route_id=500 + i // 3)
             for i in range(n)]
    routes = [RouteRow(route_id=500 + r, date=day, km=Decimal("80.5"),
                       ferry_minutes=Decimal(0), km_planned=False, visits=5, own_visits=3,
                       own_km=Decimal("40.1"), own_ferry=Decimal(0))
              for r in range((n + 2) // 3)]
    return InvoiceDoc(invoice_id=1, kind="invoice", number=None, status="draft",
                      month="2026-10", period_start=day, period_end=dt.date(2026, 10, 31),
                      issue_date=None, due_date=None, seller=Party("Afdelingen"),
                      buyer=Party("Kommunen", ean="5798000410999"), municipality_code=410,
                      agreement_reference="A-1",
                      lines=[DocLine("ref", "Henvisninger", Decimal(n), "stk",
                                     Decimal("100.00"), Decimal(100 * n))],
                      total=Decimal(100 * n), vat_percent=Decimal(0), vat_amount=Decimal(0),
                      items=items, settings=[("Moms", "ingen")], routes=routes,
                      personal_data=personal_data)


def _text(data: bytes, tmp_path) -> list[str]:
    path = tmp_path / "s.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return out.split("\f")[:-1]


def test_every_visit_and_route_once_with_the_header_on_every_page(tmp_path):
    pages = _text(statement.render_pdf(_doc(600)), tmp_path)
    assert len(pages) > 10
    text = "".join(pages)
    for i in range(600):
        assert text.count(f" {10000 + i} ") == 1, i  # each referral number on one line
    visit_pages = [p for p in pages if "Henv.nr." in p]
    route_pages = [p for p in pages if "Heraf jeres" in p]
    assert len(visit_pages) >= 10 and len(route_pages) >= 3
    for p in visit_pages[1:]:  # the header repeated at the top of each further page
        assert p.lstrip().startswith("Dato")
    assert text.count("600 besøg") == 1  # the total row once, at the end of the visits
    assert "I alt" in visit_pages[-1]
    for r in range(200):
        assert f"Rute {500 + r}" in text


def test_long_texts_wrap_in_their_column_and_markup_prints_literally(tmp_path):
    long_ref = "Kommunens sagsnummer og en lang forklaring " * 3 + "SLUT"
    short = "<i>k</i> (a\\b)"  # fits its column: drawn as a plain string
    doc = _doc(40, "name", reference=lambda i: long_ref if i == 3 else
               (MARKUP if i % 2 else short), name=lambda i: MARKUP)
    text = "".join(_text(statement.render_pdf(doc), tmp_path))
    assert "SLUT" in text
    for piece in ("<b>fed</b> &", '<img src="/etc/passwd"/>', "(parentes)", "\\ skråstreg"):
        assert piece in text, piece  # printed as written, wrapped or not
    assert text.count(short) == 20


def test_a_row_taller_than_a_page_is_still_printed(tmp_path):
    """A text of many lines in one cell: the table falls back to reportlab's LongTable,
    which splits inside the row, instead of failing to lay out."""
    huge = " ".join(f"linje{i}" for i in range(900)) + " SIDSTE"
    doc = _doc(30, reference=lambda i: huge if i == 10 else "")
    table = statement._visits_table(doc, statement.styles()["Small"])
    assert not isinstance(table, RowTable)
    text = "".join(_text(statement.render_pdf(doc), tmp_path))
    assert "SIDSTE" in text and "linje450" in text
    assert "30 besøg" in text


def test_the_footer_names_the_month_in_danish(tmp_path):
    pages = _text(statement.render_pdf(_doc(3)), tmp_path)
    assert all("oktober 2026" in p for p in pages)
    assert not any("2026-10" in p for p in pages)
