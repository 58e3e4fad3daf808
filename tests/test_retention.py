"""Erasure of citizen data after the retention period while the invoices' figures stay."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, text

from hjemmeprove.db.models import (
    AuditEntry,
    Citizen,
    Invoice,
    InvoiceDocument,
    InvoiceItem,
    InvoiceLine,
    Request,
)
from hjemmeprove.errors import PermissionDenied
from hjemmeprove.services.retention import ERASED, RetentionService, years_before
from tests.factories import request_values
from tests.test_invoice_fixtures import add_route, set_2020_rates

TODAY = dt.date(2026, 11, 23)  # cut-off with the default 5 years: 2021-11-23
OLD = {"cpr": "121248-1113", "name": "Astrid Gammel"}
OLD2 = {"cpr": "131249-2224", "name": "Bent Gammel"}
RECENT = {"cpr": "141250-3335", "name": "Carl Nyere"}
NO_INVOICE = ("150151-4446", "Dorte Aflyst")
STILL_OPEN = ("160152-1557", "Erik Åben")


def _issue(app, month, issue_date):
    [info] = app.billing.run(month)
    return app.billing.issue(info.id, issue_date=issue_date)


@pytest.fixture
def history(department_app):
    """Two citizens billed in 2020, one billed on an invoice issued 2023, one with only a
    cancelled 2020 request, one with an open 2020 request."""
    app = department_app
    set_2020_rates(app)
    add_route(app, dt.date(2020, 3, 10), [dict(OLD, code=479), dict(OLD2, code=479)], km="40")
    old_inv = _issue(app, "2020-03", dt.date(2020, 4, 1))
    add_route(app, dt.date(2020, 5, 12), [dict(RECENT, code=479)], km="20")
    new_inv = _issue(app, "2020-05", dt.date(2023, 6, 1))
    d = app.requests.create(request_values(cpr=NO_INVOICE[0], name=NO_INVOICE[1],
                                           received="2020-02-03", note="nøgle under måtten"),
                            today=dt.date(2020, 2, 3))
    app.requests.cancel(d, dt.datetime(2020, 2, 4, 9), "datter Hanne Lund 20304050",
                        "telephone", note="borgeren er indlagt")
    app.requests.create(request_values(cpr=STILL_OPEN[0], name=STILL_OPEN[1],
                                       received="2020-02-03"), today=dt.date(2020, 2, 3))
    # an edit, so the trail holds before/after values of personal fields
    with app.store.session() as s:
        c = s.scalar(select(Citizen).where(Citizen.cpr == OLD["cpr"]))
        c.address, c.phone = "Nørregade 9", "12345678"
        c.lat, c.lon = 55.12345, 10.54321
        from hjemmeprove.db.models import DistanceCacheEntry

        for a, b in (("55.12345,10.54321", "55.05870,10.59310"),  # the lab to OLD's home
                     ("55.05870,10.59310", "55.06000,10.61000")):  # to a kept citizen's
            s.add(DistanceCacheEntry(source="osrm", from_key=a, to_key=b, km=1.0, minutes=2.0))
    return app, old_inv, new_inv


def _figures(app):
    with app.store.session() as s:
        return (sorted((i.number, i.total, i.vat_amount) for i in s.scalars(select(Invoice))),
                sorted((ln.invoice_id, ln.code, ln.quantity, ln.rate, ln.amount)
                       for ln in s.scalars(select(InvoiceLine))),
                sorted((it.invoice_id, it.visit_id, it.km_share, it.ferry_share, it.outcome,
                        it.billable) for it in s.scalars(select(InvoiceItem))),
                s.scalar(select(text("count(*)")).select_from(Request)))


def _all_text(app) -> str:
    """Every text value in every table (and the text documents), to search for leftovers."""
    from hjemmeprove.db.models import Base

    chunks = []
    with app.store.session() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(table.select()):
                for v in row:
                    if isinstance(v, bytes):
                        if not v.startswith(b"%PDF"):
                            chunks.append(v.decode("utf-8", "replace"))
                    elif v is not None:
                        chunks.append(str(v))
    return "\n".join(chunks)


def test_expired_citizens_are_erased_and_the_invoices_stay(history):
    app, old_inv, new_inv = history
    figures = _figures(app)
    service = RetentionService(app.store)
    dry = service.erase_expired(today=TODAY, dry_run=True)
    assert dry.citizens == 3 and dry.dry_run
    assert _figures(app) == figures and OLD["cpr"] in _all_text(app)  # dry run wrote nothing

    result = service.erase_expired(today=TODAY)
    assert result.cutoff == dt.date(2021, 11, 23)
    assert result.citizens == 3  # the two billed in 2020 and the cancelled one
    assert result.distance_cache_rows == 1  # OLD's home; the shared position stays
    assert _figures(app) == figures  # every total, line, share and request stays
    everything = _all_text(app)
    for cpr, name in ((OLD["cpr"], OLD["name"]), (OLD2["cpr"], OLD2["name"]), NO_INVOICE):
        assert cpr not in everything and cpr.replace("-", "") not in everything
        assert name not in everything
        # in any case: the database's search copies are lower-cased (0010's search_text)
        assert name.lower() not in everything.lower()
    for secret in ("Nørregade 9", "12345678", "nøgle under måtten", "borgeren er indlagt",
                   "55.12345", "10.54321", "Hanne Lund", "20304050"):
        assert secret.lower() not in everything.lower()
    # kept: the recent invoice's citizen, the open request's citizen
    for cpr, name in ((RECENT["cpr"], RECENT["name"]), STILL_OPEN):
        assert cpr in everything and name in everything
    with app.store.session() as s:
        erased = list(s.scalars(select(Citizen).where(Citizen.erased_at.is_not(None))))
        assert {c.name for c in erased} == {ERASED}
        assert all(c.cpr.startswith("SLET") for c in erased)
        items = {it.invoice_id: it for it in s.scalars(select(InvoiceItem))}
        assert items[old_inv.id].cpr == ERASED and items[old_inv.id].citizen_name == ERASED
        assert items[new_inv.id].citizen_name == RECENT["name"]
        kinds = {(d.invoice_id, d.kind) for d in s.scalars(select(InvoiceDocument))}
        assert (old_inv.id, "statement_pdf") not in kinds  # names and CPR: past 5 years
        assert (old_inv.id, "invoice_pdf") in kinds
        assert (new_inv.id, "statement_pdf") in kinds
        marks = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "erase")))
        assert len(marks) == 3 and {m.user for m in marks} == {"test"}
        assert {m.row_key for m in marks} == {str(c.id) for c in erased}
        # the trail still shows that the address changed, not what it was
        change = [e for e in s.scalars(select(AuditEntry).where(
            AuditEntry.table_name == "citizens", AuditEntry.action == "update"))]
        assert any(json.loads(e.after).get("address") == ERASED for e in change)
    again = service.erase_expired(today=TODAY)
    assert again.citizens == 0  # nothing left to erase
    # the same person can be referred again: a new, ordinary citizen row
    rid = app.requests.create(request_values(cpr=OLD["cpr"], received="2026-11-20"),
                              today=TODAY)
    assert app.requests.get(rid).cpr == OLD["cpr"]


def test_the_retention_period_comes_from_the_settings(history):
    app, _, _ = history
    app.settings.set("retention.years", 10)
    result = RetentionService(app.store).erase_expired(today=TODAY)
    assert result.citizens == 0 and result.cutoff == dt.date(2016, 11, 23)
    app.settings.set("retention.years", 2)
    assert RetentionService(app.store).erase_expired(today=TODAY).citizens == 4


@pytest.mark.sqlite_only
def test_only_the_administrator_erases(history):
    from hjemmeprove.app import App
    from hjemmeprove.security import add_user

    app, _, _ = history
    add_user(app.store, "test", "administrator")
    add_user(app.store, "kari", "coordinator")
    kari = App(app.store.url, user="kari", upgrade=False)
    try:
        with pytest.raises(PermissionDenied):
            RetentionService(kari.store).erase_expired(today=TODAY)
        assert RetentionService(kari.store).erase_expired(today=TODAY, dry_run=True).citizens == 3
    finally:
        kari.close()
    assert RetentionService(app.store).erase_expired(today=TODAY).citizens == 3


def test_cli_retention_run(history, capsys):
    from hjemmeprove.cli import main

    app, _, _ = history
    url = app.store.engine.url.render_as_string(hide_password=False)
    assert main(["--db", url, "retention", "run", "--today", "2026-11-23", "--dry-run",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["citizens"] == 3
    assert main(["--db", url, "retention", "run", "--today", "23-11-2026"]) == 2
    assert "--today" in capsys.readouterr().err


def test_years_before_handles_leap_day():
    assert years_before(dt.date(2024, 2, 29), 5) == dt.date(2019, 2, 28)
    assert years_before(dt.date(2026, 11, 23), 5) == dt.date(2021, 11, 23)


@pytest.mark.postgres
def test_erasure_as_the_administrators_login_passes_the_database_guards(history):
    """On PostgreSQL with roles set up: the administrator's login may erase (privileges and
    the audit trail's redaction-only trigger allow exactly this), the coordinator's may not."""
    import uuid

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from hjemmeprove.app import App
    from hjemmeprove.db import pg_roles
    from hjemmeprove.security import add_user
    from tests.test_security_pg import _drop_logins

    app, _, _ = history
    if app.store.is_sqlite:
        pytest.skip("PostgreSQL only")
    pg_roles.setup(app.store)
    url = make_url(app.store.url)
    logins = {r: f"hp_{r[:5]}_{uuid.uuid4().hex[:6]}" for r in ("administrator", "coordinator")}
    for role, login in logins.items():
        add_user(app.store, login, role)
    def login(role):
        return url.set(username=logins[role]).render_as_string(hide_password=False)

    admin = App(login("administrator"), upgrade=False)
    coord = App(login("coordinator"), upgrade=False)
    try:
        with pytest.raises((DBAPIError, PermissionDenied)):
            RetentionService(coord.store).erase_expired(today=TODAY)
        figures = _figures(app)
        assert RetentionService(admin.store).erase_expired(today=TODAY).citizens == 3
        assert _figures(app) == figures
        assert OLD["cpr"] not in _all_text(app)
    finally:
        admin.close()
        coord.close()
        app.store.dispose()
        _drop_logins(url.render_as_string(hide_password=False), logins.values())


def test_erased_values_leave_the_database_files(history):
    """Issue 11: the old row versions go too (SQLite: checkpoint and VACUUM; PostgreSQL:
    VACUUM FULL of the touched tables, outside the transaction)."""
    app, _, _ = history
    rare = app.requests.create(request_values(cpr="170153-2668", name="Xqzwyk Pqmbrt",
                                              received="2020-02-03"), today=dt.date(2020, 2, 3))
    app.requests.cancel(rare, dt.datetime(2020, 2, 4, 9), "datter", "telephone")
    result = RetentionService(app.store).erase_expired(today=TODAY)
    assert result.citizens == 4 and result.vacuum_problem == "" and result.vacuumed
    if app.store.is_sqlite:
        from pathlib import Path

        db = Path(app.store.engine.url.database)
        raw = b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())
        for secret in (OLD["cpr"], OLD["name"], "Hanne Lund", "borgeren er indlagt"):
            assert secret.encode() not in raw, secret
        # the search index (FTS5 trigrams) merged, not only marked deleted: no trigram of
        # the erased name is left in the index's segments
        with app.store.engine.connect() as conn:
            segments = b"".join(bytes(b) for b in conn.exec_driver_sql(
                "SELECT block FROM requests_fts_data").scalars() if b is not None)
        left = [t for t in ("xqz", "qzw", "zwy", "wyk", "pqm", "qmb", "mbr")
                if t.encode() in segments]
        assert not left, left
    else:
        assert "citizens" in result.vacuumed and "audit_log" in result.vacuumed


def test_retention_erases_the_electronic_messages_about_an_expired_citizen(history):
    """A MedCom message about an expired citizen holds the same data (raw bytes, CPR, name,
    address, text): erased with the citizen; a newer message about a kept citizen stays."""
    from hjemmeprove.db.models import IntakeMessage
    from hjemmeprove.intake import fhir
    from hjemmeprove.intake.ack import build_new_message
    from hjemmeprove.intake.service import IntakeService

    app, _old, _new = history
    intake = IntakeService(app.store)
    sor, ean = "123451000016001", "5790001234567"
    intake.add_sender(479, sor=sor, name="Hjemmeplejen, Svendborg Kommune")
    for who, text_, when in (
            (OLD, "Astrids nøgle ligger i blomsterkrukken",
             dt.datetime(2020, 3, 1, 8, 30, tzinfo=dt.timezone.utc)),
            (RECENT, "Carl er fastende", dt.datetime(2022, 1, 10, 8, 30, tzinfo=dt.timezone.utc))):
        bundle = build_new_message(text_, who["cpr"], who["name"], sor, ean,
                                   "987651000016009", "5798000000013", when,
                                   address=("Kildevej 19", "5700", "Svendborg"))
        assert intake.receive(fhir.dumps(bundle, "json")).ack_code == "ok"
    RetentionService(app.store).erase_expired(today=TODAY)
    everything = _all_text(app)
    for leftover in (OLD["name"], OLD["cpr"], OLD["cpr"].replace("-", ""), "blomsterkrukken"):
        assert leftover not in everything
    assert RECENT["name"] in everything and "fastende" in everything
    with app.store.session() as s:
        assert sorted(len(m.raw) > 0 for m in s.scalars(select(IntakeMessage))) == [False, True]


def test_search_copies_in_older_audit_entries_are_erased_too(history):
    """Before the audit trail skipped the columns the database keeps, a request's entries
    held ``search_text``: the citizen's name and address, lower-cased. The erasure redacts
    that field in such entries, and a new request's entry no longer records it."""
    app, _old, _new = history
    with app.store.session() as s:
        rid = s.scalar(select(Request.id).join(Citizen, Citizen.id == Request.citizen_id)
                       .where(Citizen.cpr == OLD["cpr"]))
        entry = s.scalar(select(AuditEntry).where(AuditEntry.table_name == "requests",
                                                  AuditEntry.row_key == str(rid),
                                                  AuditEntry.action == "insert"))
        assert "search_text" not in json.loads(entry.after)  # not recorded now
        s.add(AuditEntry(user="old version", table_name="requests", row_key=str(rid),
                         action="insert", before="",
                         after=json.dumps({"id": rid, "search_text": "astrid gammel\nalgade 1"})))
    RetentionService(app.store).erase_expired(today=TODAY)
    assert "astrid gammel" not in _all_text(app).lower()
