"""The citizen's CPR, name and postcode stored on each of their requests (migration 0011):
written by the database when a request is made or moved to another citizen and when its
citizen changes, whoever writes them; any other write refused; filled by the migration for
the rows already there, and gone again on the way down. And the PostgreSQL search that
reads them (one condition on the request row): the same rows, order and count as the list,
whether its page is gathered or walked."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text, update
from sqlalchemy.exc import DBAPIError

from hjemmeprove.db.models import Citizen, Request
from hjemmeprove.domain.labels import ACTIVE_STATUSES
from hjemmeprove.services import requests as request_service
from tests.factories import request_values
from tests.search_support import found, found_at_head

TODAY = dt.date(2024, 3, 20)
CONFIRM = {"citizen_changed", "duplicate", "deadline_passed"}


def _keys(engine_or_app, request_id: int) -> tuple:
    engine = getattr(getattr(engine_or_app, "store", None), "engine", engine_or_app)
    with engine.connect() as c:
        return tuple(c.execute(text(
            "SELECT citizen_cpr, citizen_name, citizen_postcode FROM requests WHERE id = :i"),
            {"i": request_id}).one())


def test_the_keys_follow_the_citizen_and_a_move_to_another(department_app):
    app = department_app
    first = app.requests.create(request_values(cpr="060660-1666", name="Grete Kjærgaard",
                                               address="Ådalen 3", postcode="5700",
                                               city="Svendborg"), today=TODAY)
    second = app.requests.create(request_values(
        cpr="060660-1666", name="Grete Kjærgaard", address="Ådalen 3",
        sampling_address="Plejecenter Solgården", sampling_postcode="5960",
        sampling_city="Marstal", received="2024-03-19"), today=TODAY,
        confirm={"duplicate", "deadline_passed"})
    assert _keys(app, first) == _keys(app, second) == ("060660-1666", "Grete Kjærgaard", "5700")
    assert found(app, "0606") == {first, second}
    # renamed and moved through the program (a confirmed update of the citizen)
    values = request_values(cpr="060660-1666", name="Grete Østergaard", address="Bøgevej 8",
                            postcode="5600", city="Faaborg")
    app.requests.update(first, app.requests.get(first).version, values, today=TODAY,
                        confirm=CONFIRM)
    assert _keys(app, second) == ("060660-1666", "Grete Østergaard", "5600")
    assert found(app, "5600") == {first, second}  # the citizen's postcode, both requests
    assert found(app, "Faaborg") == {first, second}
    assert found(app, "5960") == {second}  # the second's own (sampling) postcode
    # by any other writer (a script, the retention's erasure): the database
    with app.store.session() as s:
        cid = s.get(Request, first).citizen_id
        s.execute(update(Citizen).where(Citizen.id == cid).values(
            cpr="SLET0000001", name="Slettet", postcode="0000"))
    assert _keys(app, first) == _keys(app, second) == ("SLET0000001", "Slettet", "0000")
    assert found(app, "0606") == set()
    # a request moved to another citizen (its CPR corrected on the form) takes theirs
    other = app.requests.create(request_values(cpr="070770-1777", name="Ib Vinther",
                                               address="Torvet 2", postcode="5700",
                                               city="Svendborg"), today=TODAY)
    moved = request_values(cpr="070770-1777", name="Ib Vinther", address="Torvet 2",
                           postcode="5700", city="Svendborg")
    app.requests.update(first, app.requests.get(first).version, moved, today=TODAY,
                        confirm=CONFIRM)
    assert _keys(app, first) == ("070770-1777", "Ib Vinther", "5700")
    assert found(app, "0707") == {first, other}
    # and one moved by a direct write of its citizen (citizens merged by a script)
    with app.store.session() as s:
        target = s.get(Request, other).citizen_id
        s.execute(update(Request).where(Request.id == second).values(citizen_id=target))
    assert _keys(app, second) == ("070770-1777", "Ib Vinther", "5700")
    assert found(app, "0707") == {first, second, other}
    assert [r.id for r in app.requests.list(search="0707", sort="cpr")] == sorted(
        [first, second, other])


def test_the_keys_cannot_be_written_by_hand(department_app):
    app = department_app
    rid = app.requests.create(request_values(cpr="080880-1888", name="Ulla Mørk",
                                             address="Engvej 5"), today=TODAY)
    before = _keys(app, rid)
    for column, value in (("citizen_cpr", "010101-0101"), ("citizen_name", "Aase"),
                          ("citizen_postcode", "5960")):
        with pytest.raises(DBAPIError, match="kept by the database"):
            with app.store.session() as s:
                s.execute(text(f"UPDATE requests SET {column} = :v WHERE id = :i"),
                          {"v": value, "i": rid})
        assert _keys(app, rid) == before, column
    with app.store.session() as s:  # the right value is no change: allowed
        s.execute(text("UPDATE requests SET citizen_name = 'Ulla Mørk' WHERE id = :i"),
                  {"i": rid})
    assert _keys(app, rid) == before
    assert found(app, "5960") == set()
    assert found(app, "0808") == {rid}


def _every_page(app, term, key, descending, status, size):
    rows, after = [], None
    while True:
        page = app.requests.page(search=term, sort=key, descending=descending,
                                 status=status, after=after, limit=size)
        rows += [r.id for r in page.rows]
        after = page.next
        if after is None:
            return rows


@pytest.mark.parametrize("plan", ["gather", "walk"])
def test_a_search_gathered_or_walked_gives_the_lists_rows(department_app, monkeypatch, plan):
    """On PostgreSQL a search's page is gathered by its indexes, or, for a term common in a
    sample of the newest requests, walked in the list's order with the term checked on each
    row: either gives the list's rows in its order, on every sort, and the count is theirs
    (on PostgreSQL one count of the request rows, no union)."""
    from sqlalchemy import event

    app = department_app
    if plan == "walk":  # any term found in 1 of the 2 newest rows is common
        monkeypatch.setattr(request_service, "_SAMPLE", 2)
        monkeypatch.setattr(request_service, "COMMON_SHARE", 0.5)
    else:
        monkeypatch.setattr(request_service, "_SAMPLE", 10_000)
    ids = []
    for i in range(10):
        ids.append(app.requests.create(request_values(
            cpr=f"{i + 1:02d}0{i % 9 + 1}60-{3000 + i}", name=f"Hansen {chr(75 - i)}",
            address=f"Algade {i}", postcode="5960" if i % 3 else "5700",
            city="Marstal" if i % 3 else "Svendborg", received=f"2024-03-{i % 9 + 1:02d}",
            **({"sampling_address": "Havnen 1", "sampling_postcode": "5700",
                "sampling_city": "Svendborg"} if i == 4 else {})), today=TODAY))
    app.requests.cancel(ids[3], dt.datetime(2024, 3, 10, 8), "Hjemmeplejen", "electronic")
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    for term in ("hansen", "Marstal", "5700", "0"):
        for key in request_service.SORT_KEYS:
            for descending in (False, True):
                for status in (None, ACTIVE_STATUSES):
                    expected = [r.id for r in app.requests.list(
                        search=term, sort=key, descending=descending, status=status)]
                    assert expected, (term, key)
                    assert _every_page(app, term, key, descending, status, 3) == expected, (
                        term, key, descending, status)
        event.listen(app.store.engine, "before_cursor_execute", record)
        try:
            seen.clear()
            count = app.requests.count(search=term)
        finally:
            event.remove(app.store.engine, "before_cursor_execute", record)
        assert count == len(app.requests.list(search=term)), term
        if not app.store.is_sqlite:  # SQLite's count: the union of its FTS5 and index lookups
            assert not any("UNION" in s for s in seen if "requests" in s), term


def test_migration_0011_fills_existing_rows_and_goes_down_and_up(db_url):
    from tests.test_migration_0008 import _insert, insert_agreement, insert_citizen_request
    from tests.test_migration_0008 import migrate as migrate_to

    engine = create_engine(db_url)
    columns = {"citizen_cpr", "citizen_name", "citizen_postcode"}

    def migrate(fn, revision):
        migrate_to(engine, db_url, fn, revision)

    def at_head(term: str) -> set[int]:
        return found_at_head(db_url, term)

    def schema() -> tuple[set, set]:
        with engine.connect() as c:
            insp = inspect(c)
            return ({col["name"] for col in insp.get_columns("requests")},
                    {i["name"] for i in insp.get_indexes("requests")})

    try:
        migrate(command.upgrade, "0010")
        with engine.begin() as c:
            insert_agreement(c)
            for i, name in enumerate(["Åse Ærøbo", "Per Hansen"], start=1):
                insert_citizen_request(c, i, name, f"Algade {i}")
        migrate(command.upgrade, "0011")
        assert _keys(engine, 1) == ("010150-1231", "Åse Ærøbo", "5700")
        assert _keys(engine, 2) == ("020150-1232", "Per Hansen", "5700")
        names, indexes = schema()
        assert columns <= names
        assert {"ix_requests_citizen_cpr", "ix_requests_citizen_postcode"} <= indexes
        assert at_head("0201") == {2}
        with engine.begin() as c:  # the triggers keep them from now on
            c.execute(text("UPDATE citizens SET postcode = '5960' WHERE id = 1"))
        assert _keys(engine, 1) == ("010150-1231", "Åse Ærøbo", "5960")
        assert at_head("Marstal") == {1}
        migrate(command.downgrade, "0010")
        names, indexes = schema()
        assert not columns & names
        assert not {"ix_requests_citizen_cpr", "ix_requests_citizen_postcode"} & indexes
        with engine.begin() as c:  # rows written at 0010: no trigger of 0011 left behind
            c.execute(text("UPDATE citizens SET name = 'Åse Lund', cpr = '010150-1239' "
                           "WHERE id = 1"))
            _insert(c, "citizens", id=3, cpr="030150-1233", name="Bo Winther",
                    address="Kirkevej 3", postcode="5700", city="Svendborg")
            _insert(c, "requests", id=3, citizen_id=3, municipality_id=1, department_id=1,
                    agreement_id=1, received=dt.date(2024, 3, 2),
                    deadline=dt.date(2024, 3, 16), status="open", version=1,
                    address="Kirkevej 3", postcode="5700", city="Svendborg")
        migrate(command.upgrade, "0011")  # up again: from the rows as they are now
        assert _keys(engine, 1) == ("010150-1239", "Åse Lund", "5960")
        assert _keys(engine, 3) == ("030150-1233", "Bo Winther", "5700")
        assert at_head("0301") == {3}
    finally:
        engine.dispose()
