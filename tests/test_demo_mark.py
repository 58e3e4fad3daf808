"""A demo database (``hjemmeprove demo``) prints DEMO on its documents: invoice and
statement PDFs, route sheets, citizen letters, replies to the municipality and the year's
statistics; a real database never does."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hjemmeprove.db.models import Setting
from hjemmeprove.documents import citizen_letter, reply, route_sheet
from hjemmeprove.settings import DEMO_DATA
from tests.factories import request_values
from tests.test_invoice_fixtures import add_route, set_2020_rates
from tests.test_route_documents import pdf_text

MON = dt.date(2024, 3, 4)
NOTE = "DEMO: opdigtede data"


def _documents(app, tmp_path: Path) -> dict[str, str]:
    """The text of each kind of document the database makes now."""
    route = app.planning.routes(MON, MON)[0]
    name, _h, lab = app.planning.department_header()
    letters = app.planning.letters(MON, written=dt.date(2024, 3, 1))
    (info,) = app.billing.run("2020-03")
    docs = app.billing.documents(info.id)
    replies = app.planning.send_replies(MON, MON, again=True)  # sent before; made again
    assert replies
    return {"reply": pdf_text(reply.render_pdf(replies, name), tmp_path),
            "statistics": pdf_text(app.stats.pdf(2024), tmp_path),
"route sheet": pdf_text(route_sheet.render(route, name, lab), tmp_path),
            "letter": pdf_text(citizen_letter.render_many(letters), tmp_path),
            "invoice": pdf_text(docs["invoice_pdf"][1], tmp_path),
            "statement": pdf_text(docs["statement_pdf"][1], tmp_path)}


def test_demo_database_prints_demo_on_its_documents(department_app, tmp_path):
    app = department_app
    app.requests.create(request_values(received="2024-03-01"))
    app.planning.plan(MON, MON, time_limit_s=1.0)
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(standalone="5")], km="10.0")
    app.planning.send_replies(MON, MON)

    real = _documents(app, tmp_path)
    assert all(NOTE not in text and "DEMO" not in text for text in real.values()), real

    with app.store.session() as s:  # what ``hjemmeprove demo`` writes
        s.merge(Setting(key=DEMO_DATA, value="true"))
    demo = _documents(app, tmp_path)
    for kind, text in demo.items():
        assert NOTE in text, kind  # the line at the top of every page (and the large mark)
