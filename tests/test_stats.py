"""Follow-up counts per municipality and month, year totals, JSON/CSV and the chart page."""

import datetime as dt
import json

from hjemmeprove.cli import main
from tests.test_invoice_fixtures import add_route


def test_counts_requests_samplings_and_distinct_citizens(department_app):
    app = department_app
    add_route(app, dt.date(2024, 3, 5), [dict(code=479, cpr="010150-1111"),
                                         dict(code=479, outcome="not_home"),
                                         dict(code=430)], km="10")
    add_route(app, dt.date(2024, 4, 9), [dict(code=479, cpr="010150-1112")], km="10")
    st = app.stats.year(2024)
    by = {m.code: m for m in st.municipalities}
    assert set(by) == {479, 430}
    # received 3 days before the visit (fixtures): 2024-03-02 and 2024-04-06
    assert by[479].months["2024-03"].requests_received == 2
    assert by[479].months["2024-03"].samplings_done == 1  # not at home is no sampling
    assert by[479].months["2024-04"].samplings_done == 1
    assert by[479].year_total.samplings_done == 2
    assert by[479].year_total.distinct_citizens == 2
    assert st.total.samplings_done == 3 and st.total.requests_received == 4


def test_distinct_citizens_counted_once_per_year(department_app):
    from sqlalchemy import select, update

    from hjemmeprove.db.models import Request
    app = department_app
    add_route(app, dt.date(2024, 3, 5), [dict(code=479)], km="10")
    add_route(app, dt.date(2024, 4, 9), [dict(code=479)], km="10")
    with app.store.session() as s:  # the same citizen both times
        first = s.scalar(select(Request.citizen_id).order_by(Request.id))
        s.execute(update(Request).values(citizen_id=first))
    m = app.stats.year(2024).municipalities[0]
    assert m.months["2024-03"].distinct_citizens == 1 == m.months["2024-04"].distinct_citizens
    assert m.year_total.distinct_citizens == 1 and m.year_total.samplings_done == 2


def test_cli_json_csv_and_one_page_pdf(department_app, tmp_path, capsys):
    from pypdf import PdfReader

    app = department_app
    add_route(app, dt.date(2024, 3, 5), [dict(code=479), dict(code=492)], km="10")
    url = app.store.url
    assert main(["--db", url, "stats", "--year", "2024", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    m = {x["code"]: x for x in data["municipalities"]}
    assert m[492]["year_total"] == {"requests_received": 1, "samplings_done": 1,
                                    "distinct_citizens": 1}
    assert len(m[479]["months"]) == 12
    pdf = tmp_path / "stats.pdf"
    assert main(["--db", url, "stats", "--year", "2024", "--csv", "--pdf", str(pdf)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("kommunekode;kommune;maaned")
    assert any(r.startswith("492;Ærø;2024 i alt;1;1;1") for r in rows)
    assert len(PdfReader(str(pdf)).pages) == 1
    assert main(["--db", url, "stats", "--year", "nope"]) == 2
