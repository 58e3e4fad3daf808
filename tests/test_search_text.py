"""The search text stored on the request row (migration 0010): written by the database when
a request or its citizen changes, whoever writes them, never stale; the migration fills it
for the rows already there, and goes down to 0009's indexes and up again."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text, update
from sqlalchemy.exc import DBAPIError

from hjemmeprove.app import App
from hjemmeprove.db.models import Citizen, Request
from tests.factories import request_values
from tests.search_support import found

TODAY = dt.date(2024, 3, 20)


def _stored(app, request_id: int) -> str:
    with app.store.session() as s:
        return s.scalar(text("SELECT search_text FROM requests WHERE id = :i"),
                        {"i": request_id})


def _expected(app, name: str, address: str, own: str) -> str:
    value = f"{name}\n{address}\n{own}"
    return value if app.store.is_sqlite else value.lower()


def test_a_citizens_rename_or_move_changes_what_finds_their_requests(department_app):
    app = department_app
    first = app.requests.create(request_values(cpr="060660-1666", name="Grete Kjærgaard",
                                               address="Ådalen 3"), today=TODAY)
    second = app.requests.create(request_values(
        cpr="060660-1666", name="Grete Kjærgaard", address="Ådalen 3",
        sampling_address="Plejecenter Solgården", sampling_postcode="5700",
        sampling_city="Svendborg", received="2024-03-19"), today=TODAY,
        confirm={"duplicate", "deadline_passed"})
    assert found(app, "kjærgaard") == {first, second}
    assert found(app, "ådalen") == {first, second}  # the registered address, both
    assert found(app, "solgården") == {second}
    assert _stored(app, second) == _expected(app, "Grete Kjærgaard", "Ådalen 3",
                                             "Plejecenter Solgården")
    # renamed and moved through the program (a confirmed update of the citizen)
    values = request_values(cpr="060660-1666", name="Grete Østergaard", address="Bøgevej 8")
    app.requests.update(first, app.requests.get(first).version, values, today=TODAY,
                        confirm={"citizen_changed", "duplicate", "deadline_passed"})
    assert found(app, "kjærgaard") == set()
    assert found(app, "ØSTERGAARD") == {first, second}  # the other request follows too
    assert found(app, "ådalen") == set()
    assert found(app, "bøgevej") == {first, second}
    assert found(app, "solgården") == {second}
    assert _stored(app, second) == _expected(app, "Grete Østergaard", "Bøgevej 8",
                                             "Plejecenter Solgården")
    # and by any other writer (an import, a script, the retention's erasure): the database
    with app.store.session() as s:
        cid = s.get(Request, first).citizen_id
        s.execute(update(Citizen).where(Citizen.id == cid).values(name="Grete Ærenlund",
                                                                   address="Havnevej 1"))
    assert found(app, "østergaard") == set()
    assert found(app, "bøgevej") == {first}  # the address the first was booked with, kept
    assert found(app, "ærenlund") == {first, second}
    assert found(app, "havnevej") == {first, second}
    # a request moved to another citizen takes that citizen's text
    other = app.requests.create(request_values(cpr="070770-1777", name="Ib Vinther",
                                               address="Torvet 2"), today=TODAY)
    with app.store.session() as s:
        target = s.get(Request, other).citizen_id
        s.execute(update(Request).where(Request.id == second).values(citizen_id=target))
    assert found(app, "ærenlund") == {first}
    assert found(app, "vinther") == {other, second}


def test_the_search_text_cannot_be_written_by_hand(department_app):
    app = department_app
    rid = app.requests.create(request_values(cpr="080880-1888", name="Ulla Mørk",
                                             address="Engvej 5"), today=TODAY)
    before = _stored(app, rid)
    if app.store.is_sqlite:  # refused
        with pytest.raises(DBAPIError):
            with app.store.session() as s:
                s.execute(text("UPDATE requests SET search_text = 'Xyzzy' WHERE id = :i"),
                          {"i": rid})
    else:  # written over by the trigger
        with app.store.session() as s:
            s.execute(text("UPDATE requests SET search_text = 'Xyzzy' WHERE id = :i"),
                      {"i": rid})
    assert _stored(app, rid) == before
    assert found(app, "xyzzy") == set()
    assert found(app, "mørk") == {rid}


def test_a_term_never_spans_two_fields(department_app):
    app = department_app
    rid = app.requests.create(request_values(cpr="090990-1999", name="Anna Holm",
                                             address="Algade 4"), today=TODAY)
    assert found(app, "holm") == {rid}
    assert found(app, "holm algade") == set()  # the name's end and the address's start
    assert found(app, "holm\nalgade") == set()
    assert found(app, "m\na") == set()


def test_migration_0010_fills_existing_rows_and_goes_down_and_up(db_url):
    from tests.test_migration_0008 import _insert, insert_agreement, insert_citizen_request
    from tests.test_migration_0008 import migrate as migrate_to

    engine = create_engine(db_url)
    sqlite = engine.dialect.name == "sqlite"

    def migrate(fn, revision):
        migrate_to(engine, db_url, fn, revision)

    def at_head(term: str) -> set[int]:
        app = App(db_url, user="test")  # at head: 0010
        try:
            return found(app, term)
        finally:
            app.close()

    def objects() -> tuple[set, set]:
        with engine.connect() as c:
            insp = inspect(c)
            tables = set(insp.get_table_names())
            indexes = {i["name"] for t in ("citizens", "requests")
                       for i in insp.get_indexes(t)}
            columns = {col["name"] for col in insp.get_columns("requests")}
        return tables | columns, indexes

    try:
        migrate(command.upgrade, "0009")
        with engine.begin() as c:
            insert_agreement(c)
            for i, (name, address, own) in enumerate([
                    ("Åse Ærøbo", "Østre Allé 1", "Østre Allé 1"),
                    ("Per Hansen", "Algade 2", "Strandvejen 9")], start=1):
                insert_citizen_request(c, i, name, address, own)
        migrate(command.upgrade, "0010")
        names, indexes = objects()
        assert "search_text" in names
        assert not {"citizens_search", "requests_search"} & names  # 0009's, replaced
        assert not {"ix_citizens_name_trgm", "ix_requests_address_trgm"} & indexes
        assert ("requests_fts" in names) if sqlite else (
            "ix_requests_search_text_trgm" in indexes)
        assert at_head("ÆRØB") == {1}
        assert at_head("østre all") == {1}
        assert at_head("hanse") == {2}
        assert at_head("algade") == {2}  # the citizen's address
        assert at_head("strandvej") == {2}  # the request's own
        migrate(command.downgrade, "0009")
        names, indexes = objects()
        assert "search_text" not in names and "requests_fts" not in names
        assert ("citizens_search" in names) if sqlite else (
            "ix_citizens_name_trgm" in indexes)
        with engine.begin() as c:  # rows written at 0009: its triggers, not 0010's
            c.execute(text("UPDATE citizens SET name = 'Åse Lund' WHERE id = 1"))
            _insert(c, "citizens", id=3, cpr="030150-1233", name="Bo Winther",
                    address="Kirkevej 3", postcode="5700", city="Svendborg")
            _insert(c, "requests", id=3, citizen_id=3, municipality_id=1, department_id=1,
                    agreement_id=1, received=dt.date(2024, 3, 2),
                    deadline=dt.date(2024, 3, 16), status="open", version=1,
                    address="Kirkevej 3", postcode="5700", city="Svendborg")
            if sqlite:
                assert c.execute(text("SELECT rowid FROM citizens_search WHERE "
                                      "citizens_search MATCH '\"winther\"'")).all() == [(3,)]
        migrate(command.upgrade, "0010")  # up again: the text from the rows as they are now
        assert at_head("åse lun") == {1}
        assert at_head("ærøbo") == set()
        assert at_head("winther") == {3}
        assert at_head("kirkevej") == {3}
    finally:
        engine.dispose()
