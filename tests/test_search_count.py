"""The exact count of a search (the number the request list shows). On SQLite a short term is
counted from the narrow index of what it is checked on (migration 0012), an unfiltered text
term as its text's matches in the trigram index plus its other lookups' less those, the rest
as a union of lookups. On PostgreSQL a common or short term is counted on the rows' narrow
copy (migration 0013), kept by a trigger. Every path gives the list's number, on "Alle" and
"Aktive", as rows change, on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import create_engine, event, inspect, select, text, update

from hjemmeprove.app import App
from hjemmeprove.db.models import Citizen, Municipality, Request
from hjemmeprove.domain.labels import ACTIVE_STATUSES
from hjemmeprove.services.reference import load_defaults
from hjemmeprove.services.retention import ERASED
from tests.factories import add_department, request_values
from tests.search_support import found, found_at_head

TODAY = dt.date(2024, 3, 20)
INDEX = "ix_requests_search_count"
CONFIRM = {"citizen_changed", "duplicate", "deadline_passed"}
# a short term, common ones (text, a town's postcodes, a municipality's name), rarer ones
TERMS = ("an", "ve", "vej", "Marstal", "5960", "Ærø", "hansen", "algade", "0101", "xyzzy")


def _requests(app) -> list[int]:
    ids = []
    people = [("010150-1001", "Anna Hansen", "Algade 1", "5700", "Svendborg", 479),
              ("020250-1002", "Bent Vestergaard", "Engvej 2", "5960", "Marstal", 492),
              ("030350-1003", "Carl Jensen", "Kirkevej 3", "5970", "Ærøskøbing", 492),
              ("040450-1004", "Dorte Ærenlund", "Østergade 4", "5750", "Ringe", 430),
              ("010150-1001", "Anna Hansen", "Algade 1", "5700", "Svendborg", 430),
              # "vej" by its text and a town's postcode (Vejle) both, and by the town alone
              ("050550-1005", "Erik Vejlby", "Vejlevej 3", "7100", "Vejle", 479),
              ("060650-1006", "Frede Lund", "Torvet 1", "7100", "Vejle", 479)]
    for i, (cpr, name, address, postcode, city, code) in enumerate(people):
        ids.append(app.requests.create(request_values(
            cpr=cpr, name=name, address=address, postcode=postcode, city=city,
            municipality=str(code), received=f"2024-03-{i + 10:02d}",
            **({"sampling_address": "Havnevej 9", "sampling_postcode": "5960",
                "sampling_city": "Marstal"} if i == 2 else {})), today=TODAY,
            confirm=CONFIRM))
    return ids


def _counts(app) -> dict:
    return {(term, status): found(app, term, status=status)
            for term in TERMS for status in (None, ACTIVE_STATUSES)}


def test_every_count_path_gives_the_lists_number_as_rows_change(department_app):
    app = department_app
    ids = _requests(app)
    before = _counts(app)
    assert before["vej", None] == {ids[1], ids[2], ids[5], ids[6]}  # Engvej, Kirkevej, Havnevej
    assert before["5960", None] == {ids[1], ids[2]}  # a citizen's postcode, a request's own
    assert before["an", None] >= {ids[0], ids[4]}
    # a request cancelled: out of "Aktive", still in "Alle"
    app.requests.cancel(ids[1], dt.datetime(2024, 3, 18, 8), "Hjemmeplejen", "electronic")
    assert found(app, "vej", status=ACTIVE_STATUSES) == {ids[2], ids[5], ids[6]}
    assert found(app, "vej") == {ids[1], ids[2], ids[5], ids[6]}
    # a citizen renamed and moved through the program: both their requests follow
    app.requests.update(ids[0], app.requests.get(ids[0]).version, request_values(
        cpr="010150-1001", name="Anna Winther", address="Fjordvej 7", postcode="5960",
        city="Marstal", municipality="479", received="2024-03-10"), today=TODAY,
        confirm=CONFIRM)
    assert found(app, "hansen") == set()
    assert found(app, "winther") == {ids[0], ids[4]}
    assert found(app, "vej") == {ids[0], ids[1], ids[2], ids[4], ids[5], ids[6]}
    assert found(app, "5960") >= {ids[0], ids[4]}
    # a citizen erased (as the retention does): nothing of theirs is found any more
    with app.store.session() as s:
        cid = s.get(Request, ids[3]).citizen_id
        s.execute(update(Citizen).where(Citizen.id == cid).values(
            cpr="SLET0000004", name=ERASED, address=ERASED, postcode="", city=""))
        s.execute(update(Request).where(Request.citizen_id == cid).values(
            address="", postcode="", city=""))
    assert found(app, "ærenlund") == set()
    assert found(app, "østergade") == set()
    assert ids[3] not in found(app, "an")
    _counts(app)  # and every term, on both filters, still agrees
    _copy_agrees(app)
    with app.store.session() as s:  # a request moved to another municipality, one deleted
        s.execute(update(Request).where(Request.id == ids[6]).values(municipality_id=select(
            Municipality.id).where(Municipality.code == 430).scalar_subquery()))
        s.execute(text("DELETE FROM visits WHERE request_id = :r"), {"r": ids[5]})
        s.execute(text("DELETE FROM requests WHERE id = :r"), {"r": ids[5]})
    assert found(app, "vej") == {ids[0], ids[1], ids[2], ids[4], ids[6]}  # 7100 Vejle still
    assert ids[6] in found(app, "faaborg")  # Faaborg-Midtfyn's now
    _counts(app)
    _copy_agrees(app)


def _copy_agrees(app) -> None:
    """PostgreSQL: the narrow copy of the request rows (0013) has each row's values."""
    if app.store.is_sqlite:
        return
    cols = "municipality_id, postcode, citizen_postcode, search_text"
    with app.store.engine.connect() as c:
        differ = c.exec_driver_sql(
            f"SELECT count(*) FROM (SELECT id, {cols} FROM requests) r "
            f"FULL JOIN requests_text t USING (id) "
            f"WHERE (r.id IS NULL OR t.id IS NULL OR (r.{cols.replace(', ', ', r.')}) "
            f"IS DISTINCT FROM (t.{cols.replace(', ', ', t.')}))").scalar_one()
        assert differ == 0
        assert c.exec_driver_sql("SELECT count(*) FROM requests_text").scalar_one() \
            == c.exec_driver_sql("SELECT count(*) FROM requests").scalar_one()


def _statements(app, fn) -> list[tuple]:
    seen: list[tuple] = []

    def record(conn, cursor, statement, parameters, *args):
        seen.append((statement, parameters))

    event.listen(app.store.engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(app.store.engine, "before_cursor_execute", record)
    return seen


@pytest.mark.sqlite_only
def test_sqlite_counts_a_short_term_from_the_narrow_index(department_app):
    """A term too short for the trigram index is checked on every row: its count reads the
    index of the search text, municipality and status, not the table's wide rows."""
    app = department_app
    _requests(app)
    for status in (None, "done"):  # under a status: its plan is SQLite's choice, the count ours
        counted = []
        seen = _statements(app, lambda: counted.append(app.requests.count(search="an",
                                                                         status=status)))
        assert counted == [len(app.requests.list(search="an", status=status))]
        statement, parameters = [(q, p) for q, p in seen
                                 if q.lstrip().upper().startswith("SELECT COUNT(*)")][-1]
        with app.store.engine.connect() as c:  # the plan of the statement the count ran
            plan = " ".join(str(r[-1]) for r in c.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters))
        assert status or f"COVERING INDEX {INDEX}" in plan, plan


@pytest.mark.sqlite_only
def test_sqlite_counts_a_texts_matches_in_the_trigram_index_alone(department_app):
    """Unfiltered, a text's matches are counted in the FTS5 table alone and the other
    lookups' (a town's postcodes) added less those: never one union of every id."""
    app = department_app
    ids = _requests(app)
    counted = []
    seen = _statements(app, lambda: counted.append(app.requests.count(search="vej")))
    assert counted == [len({ids[1], ids[2], ids[5], ids[6]})]
    counts = [q for q, _p in seen if q.lstrip().upper().startswith("SELECT COUNT(*)")]
    assert len(counts) == 2 and "EXCEPT" in counts[1], counts
    assert "requests_fts MATCH" in counts[0] and "UNION" not in counts[0], counts
    assert not any("IN (SELECT requests_fts.rowid" in q for q in counts), counts


def test_migrations_0012_0013_build_the_index_and_the_copy_and_go_down_and_up(db_url):
    from tests.test_migration_0008 import migrate as migrate_to

    engine = create_engine(db_url)

    def indexes() -> set:
        with engine.connect() as c:
            return {i["name"] for i in inspect(c).get_indexes("requests")}

    def at_head(term: str) -> set[int]:
        return found_at_head(db_url, term)

    sqlite = db_url.startswith("sqlite")  # PostgreSQL reads the table: no index there
    try:
        app = App(db_url, user="test")
        load_defaults(app.store)
        add_department(app)
        ids = _requests(app)
        app.close()
        assert (INDEX in indexes()) == sqlite
        assert at_head("vej") == {ids[1], ids[2], ids[5], ids[6]}
        migrate_to(engine, db_url, command.downgrade, "0011")  # through 0013's downgrade
        assert INDEX not in indexes()
        assert "requests_text" not in inspect(engine).get_table_names()
        with engine.begin() as c:  # rows changed at 0011
            c.execute(text("UPDATE citizens SET name = 'Bent Vejlby' WHERE cpr = '020250-1002'"))
        migrate_to(engine, db_url, command.upgrade, "0012")
        assert (INDEX in indexes()) == sqlite
        assert at_head("vejlby") == {ids[1], ids[5]}  # 0013's copy holds the rows of now
        assert at_head("vej") == {ids[1], ids[2], ids[5], ids[6]}
        assert ("requests_text" in inspect(engine).get_table_names()) == (not sqlite)
        app = App(db_url, user="test")
        _copy_agrees(app)
        app.close()
    finally:
        engine.dispose()


def test_a_nul_character_pasted_into_the_search_is_dropped(department_app):
    """PostgreSQL refuses a NUL in a query (no stored text can hold one): the list, its count
    and its pages search without it, as on SQLite, instead of ending in a database error."""
    app = department_app
    ids = _requests(app)
    assert found(app, "v\x00ej") == found(app, "vej") == {ids[1], ids[2], ids[5], ids[6]}
    assert found(app, "a\x00n") == found(app, "an")
    assert found(app, "\x00") == set(ids)
