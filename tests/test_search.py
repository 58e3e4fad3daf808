"""The request list's free-text search through the trigram indexes (migration 0009): a part of
a name or an address in any case (æøå too), kept in step with inserts, edits and deletes by
the database; short terms; a term's characters are text, never LIKE or FTS5 syntax; pages
under a search neither overlap nor skip."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import create_engine, delete, inspect, text

from hjemmeprove.db.models import Citizen, Request
from hjemmeprove.domain.labels import ACTIVE_STATUSES
from tests.factories import request_values

TODAY = dt.date(2024, 3, 20)


def _found(app, term: str, **kw) -> set[int]:
    ids = {r.id for r in app.requests.list(search=term, **kw)}
    assert app.requests.count(search=term, **kw) == len(ids), term
    return ids


@pytest.fixture
def people(department_app):
    app = department_app
    made = {}
    for key, values in {
        "søren": dict(cpr="010150-1111", name="Søren Ærøe Østergård", address="Åboulevarden 12"),
        "anna": dict(cpr="020250-2222", name="Anna Holm", address="Algade 4"),
        "jens": dict(cpr="030350-3333", name='Jens "Kok" O\'Hara', address="Bygade 50%"),
        "kirsten": dict(cpr="040450-4444", name="Kirsten Lund", address="Axbvej 7",
                        sampling_address="Havnegade 9", sampling_postcode="5700",
                        sampling_city="Svendborg"),
    }.items():
        made[key] = app.requests.create(request_values(**values), today=TODAY)
    return app, made


def test_part_of_a_name_or_street_in_any_case_with_danish_letters(people):
    app, ids = people
    for term in ("ærø", "ÆRØ", "Ærø", "østergård", "ØSTERGÅRD", "rgård", "åboulev", "ÅBOULEV",
                 "Boulevard", "søren ærøe"):
        assert _found(app, term) == {ids["søren"]}, term
    assert _found(app, "Holm") == {ids["anna"]}
    assert _found(app, "lgad") == {ids["anna"]}  # a part of the street
    assert _found(app, "havneg") == {ids["kirsten"]}  # the request's own (sampling) address
    assert _found(app, "axbvej") == {ids["kirsten"]}  # and the citizen's registered one
    assert ids["søren"] in _found(app, "Svendborg")  # a town (its postcodes)
    assert _found(app, "ingen sådan") == set()


def test_the_index_follows_inserts_edits_and_deletes(people):
    app, ids = people
    new = app.requests.create(request_values(cpr="050550-1555", name="Bodil Kjærsgaard",
                                             address="Møllevænget 2"), today=TODAY)
    assert _found(app, "KJÆRSG") == {new}
    assert _found(app, "møllevæn") == {new}
    # the citizen's name and address change (an audited, confirmed update of the citizen)
    detail = app.requests.get(new)
    values = request_values(cpr="050550-1555", name="Bodil Winther", address="Rosenvænget 8")
    app.requests.update(new, detail.version, values, today=TODAY,
                        confirm={"citizen_changed"})
    assert _found(app, "kjærsg") == set()
    assert _found(app, "møllevæn") == set()
    assert _found(app, "winther") == {new}
    assert _found(app, "rosenvæn") == {new}
    # a sampling address changes on the request
    values.update(sampling_address="Strandvej 1", sampling_postcode="5700",
                  sampling_city="Svendborg")
    app.requests.update(new, app.requests.get(new).version, values, today=TODAY)
    assert _found(app, "strandv") == {new}
    # rows deleted (as retention or a test would): gone from the search, the rest still found
    with app.store.session() as s:
        citizen = s.get(Request, new).citizen_id
        s.execute(delete(Request).where(Request.id == new))
        s.execute(delete(Citizen).where(Citizen.id == citizen))
    assert _found(app, "winther") == set() and _found(app, "strandv") == set()
    assert _found(app, "ærø") == {ids["søren"]}


def test_short_terms_are_checked_row_by_row_in_any_case(people):
    app, ids = people
    assert _found(app, "ø") == _found(app, "Ø") == {ids["søren"], ids["jens"]} - {ids["jens"]}
    assert _found(app, "æR") == {ids["søren"]}
    assert _found(app, "ol") == {ids["anna"]}  # Holm
    assert _found(app, "ol", status=ACTIVE_STATUSES) == {ids["anna"]}
    assert ids["anna"] in {r.id for r in app.requests.page(search="Ho", sort="name").rows}
    assert _found(app, "q") == set()


@pytest.mark.parametrize("term", ['"', '""', '"""', "AND", "OR", "NOT", "*", "a*", "NEAR(",
                                  "^", ":", "(", ")", "+", "-", "{", "'", "\\", "%", "_",
                                  "%%%", "___", "x'; DROP TABLE requests; --", "Anna\"",
                                  "Anna AND Holm", "Ann*", "na_H", "50%", "0%"])
def test_a_terms_characters_are_text(people, term):
    app, ids = people
    found = _found(app, term)  # never raises
    for r in app.requests.list(search=term):
        detail = app.requests.get(r.id)
        text_ = " ".join((detail.name, detail.address, detail.sampling_address,
                          r.municipality)).casefold()
        assert term.strip().casefold() in text_, (term, r.id)
    assert len(found) <= len(ids)


def test_quotes_and_wildcards_match_themselves(people):
    app, ids = people
    assert _found(app, '"Kok"') == {ids["jens"]}
    assert _found(app, "O'Hara") == {ids["jens"]}
    assert _found(app, "gade 50%") == {ids["jens"]}
    assert _found(app, "50%") == {ids["jens"]}
    assert _found(app, "a_b") == set()  # "Axbvej": _ is no wildcard
    assert _found(app, "a%b") == set()
    assert _found(app, "Anna AND Holm") == set()  # FTS5 syntax is text
    assert _found(app, "Holm*") == set()


@pytest.fixture(params=["walk", "gather", "probe", "check"])
def plan(request, monkeypatch):
    """The search's read plans: its ids looked up, then the list walked in the sort key's
    order (the ids in a subquery, or passed on: "probe") or gathered; or (a common term)
    the search checked on each row read."""
    import hjemmeprove.services.requests as service

    monkeypatch.setattr(service, "GATHER_LIMIT", -1 if request.param == "walk" else 10**9)
    monkeypatch.setattr(service, "SEARCH_GATHER", -1 if request.param in ("walk", "probe")
                        else 10**9)
    monkeypatch.setattr(service, "CHECK_FROM", 0 if request.param == "check" else 10**9)
    return request.param


def test_pages_under_a_search_neither_overlap_nor_skip(department_app, plan):
    app = department_app
    ids = []
    for i in range(23):
        ids.append(app.requests.create(request_values(
            cpr=f"{i % 28 + 1:02d}0{i % 9 + 1}6{i % 10}-{2000 + i}",
            name=["Hansen", "Pedersen", "Hansen-Ærø"][i % 3] + f" {chr(65 + i)}",
            address=f"Algade {i % 5}", received=f"2024-03-{i % 9 + 1:02d}"), today=TODAY))
    app.requests.cancel(ids[4], dt.datetime(2024, 3, 10, 8), "Hjemmeplejen", "electronic")
    for term in ("hansen", "ALGADE", "an", "5700", "Svendborg", "0"):
        for key, descending in (("deadline", False), ("name", True), ("status", False),
                                ("planned", True), ("cpr", False)):
            for status in (None, ACTIVE_STATUSES):
                whole = app.requests.list(search=term, sort=key, descending=descending,
                                          status=status)
                assert whole, term
                for size in (1, 4):
                    rows, after = [], None
                    while True:
                        page = app.requests.page(search=term, sort=key, descending=descending,
                                                 status=status, after=after, limit=size)
                        rows += page.rows
                        after = page.next
                        if after is None:
                            break
                    assert [r.id for r in rows] == [r.id for r in whole], (term, key, size)
    assert len(_found(app, "hansen")) == 15
    assert _found(app, "hansen-ærø") == {ids[i] for i in range(2, 23, 3)}


def _hansens(app) -> list[int]:
    ids = []
    for i in range(12):
        ids.append(app.requests.create(request_values(
            cpr=f"{i + 1:02d}0{i % 9 + 1}60-{3000 + i}", name=f"Hansen {chr(65 + i)}",
            address=f"Algade {i}", received=f"2024-03-{i % 9 + 1:02d}"), today=TODAY))
    app.requests.cancel(ids[3], dt.datetime(2024, 3, 10, 8), "Hjemmeplejen", "electronic")
    return ids


def test_a_search_count_takes_the_other_filters(department_app):
    """The count of a search under a status, municipality or late-cancellation filter is the
    number of rows the list gives (on PostgreSQL the filters go into each of the search's
    index lookups)."""
    app = department_app
    _hansens(app)
    code = app.requests.get(app.requests.list()[0].id).municipality_code
    for term in ("hansen", "ALGADE", "5700", "Svendborg", "0", "nobody"):
        for kw in ({}, dict(status=ACTIVE_STATUSES), dict(status="cancelled"),
                   dict(municipality_code=code), dict(late_cancellations=True),
                   dict(deadline_within_days=3, today=TODAY)):
            assert app.requests.count(search=term, **kw) == len(
                app.requests.list(search=term, **kw)), (term, kw)


def test_a_search_page_on_postgresql_is_one_statement(department_app):
    """On PostgreSQL a search's page is one statement over the requests, whatever the sort:
    its matches gathered once by the search's indexes with their sort keys (a status sort's
    statuses in the same sort). Before, the matches' ids were looked up first, then read
    again by id, once per status."""
    from sqlalchemy import event

    app = department_app
    if app.store.is_sqlite:
        pytest.skip("PostgreSQL's plan")
    _hansens(app)
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(app.store.engine, "before_cursor_execute", record)
    try:
        for term in ("hansen", "5700", "0101"):
            for key in ("status", "name", "cpr", "deadline", "planned", "municipality"):
                seen.clear()
                page = app.requests.page(search=term, sort=key, limit=3)
                assert page.rows, (term, key)
                reads = [s for s in seen if "requests" in s]
                assert len(reads) == 1, (term, key, reads)
                assert "ARRAY[" not in reads[0]
    finally:
        event.remove(app.store.engine, "before_cursor_execute", record)


def test_a_pg_search_sorted_by_citizen_reads_the_matches_citizens_in_one_scan(department_app):
    """On PostgreSQL a search sorted by CPR or name sorts on the request row's copies of its
    citizen's keys (migration 0011): no lookup run once per match (a subplan: 5,000 runs for
    5,000 matches). The pages are those of SQLite's path."""
    from sqlalchemy import event

    app = department_app
    if app.store.is_sqlite:
        pytest.skip("PostgreSQL's plan")
    _hansens(app)
    seen: list = []

    def record(conn, cursor, statement, parameters, *args):
        seen.append((statement, parameters))

    for term in ("hansen", "5700", "0101"):
        for key in ("name", "cpr"):
            for descending in (False, True):
                event.listen(app.store.engine, "before_cursor_execute", record)
                try:
                    seen.clear()
                    page = app.requests.page(search=term, sort=key, descending=descending,
                                             limit=3)
                finally:
                    event.remove(app.store.engine, "before_cursor_execute", record)
                assert page.rows, (term, key)
                statement, parameters = next(x for x in seen if "requests" in x[0])
                with app.store.engine.connect() as c:
                    cur = c.connection.driver_connection.cursor()
                    cur.execute("EXPLAIN (COSTS OFF) " + statement, parameters)
                    plan = "\n".join(r[0] for r in cur.fetchall())
                assert "SubPlan" not in plan, (term, key, plan)
                walked = []
                after = None
                while True:  # every page, in the order of a list without search
                    page = app.requests.page(search=term, sort=key, descending=descending,
                                             limit=2, after=after)
                    walked += [r.id for r in page.rows]
                    if page.next is None:
                        break
                    after = page.next
                expected = [r.id for r in app.requests.list(search=term, sort=key,
                                                            descending=descending)]
                assert walked == expected, (term, key, descending)


def test_a_cursor_past_the_filters_statuses_gives_an_empty_page(department_app):
    """A status sort's cursor from a row whose status the filter now leaves out, beyond
    the filter's last status: the page is empty, never an error."""
    app = department_app
    ids = _hansens(app)
    cursor = app.requests.cursor_for(ids[3], sort="status")  # the cancelled one: last
    assert cursor.segment >= len(ACTIVE_STATUSES)
    for term in ("hansen", "Algade 1", ""):
        page = app.requests.page(search=term, sort="status", status=ACTIVE_STATUSES,
                                 after=cursor)
        assert (page.rows, page.next) == ([], None), term


def test_migration_0009_indexes_existing_rows_and_downgrades(db_url):
    """0009's own objects, checked at 0009 (0010 replaces them by the stored search text:
    ``tests/test_search_text.py``)."""
    from tests.test_migration_0008 import insert_agreement, insert_citizen_request
    from tests.test_migration_0008 import migrate as migrate_to

    engine = create_engine(db_url)
    sqlite = engine.dialect.name == "sqlite"

    def migrate(fn, revision):
        migrate_to(engine, db_url, fn, revision)

    def found(term: str) -> set[int]:
        """0009's lookup, as its service ran it: the citizens' and the requests' hits."""
        with engine.connect() as c:
            if sqlite:
                phrase = '"' + term + '"'
                return {r for r, in c.execute(text(
                    "SELECT r.id FROM requests r WHERE r.citizen_id IN (SELECT rowid FROM "
                    "citizens_search WHERE citizens_search MATCH :p) UNION SELECT rowid "
                    "FROM requests_search WHERE requests_search MATCH :p"), dict(p=phrase))}
            like = f"%{term}%"
            return {r for r, in c.execute(text(
                "SELECT r.id FROM requests r JOIN citizens c ON c.id = r.citizen_id "
                "WHERE c.name ILIKE :p OR c.address ILIKE :p OR r.address ILIKE :p"),
                dict(p=like))}

    try:
        migrate(command.upgrade, "0008")
        with engine.begin() as c:
            insert_agreement(c)
            for i, (name, address) in enumerate([("Åse Ærøbo", "Østre Allé 1"),
                                                  ("Per Hansen", "Algade 2")], start=1):
                insert_citizen_request(c, i, name, address)
        migrate(command.upgrade, "0009")
        assert found("ÆRØB") == {1}
        assert found("østre all") == {1}
        assert found("hanse") == {2}
        with engine.connect() as c:
            if sqlite:
                assert c.execute(text("SELECT rowid FROM citizens_search "
                                      "WHERE citizens_search MATCH '\"ærø\"'")).all() == [(1,)]
            else:
                assert "ix_citizens_name_trgm" in {
                    i["name"] for i in inspect(c).get_indexes("citizens")}
        migrate(command.downgrade, "0008")
        with engine.connect() as c:
            insp = inspect(c)
            assert "citizens_search" not in insp.get_table_names()
            assert "ix_citizens_name_trgm" not in {i["name"]
                                                   for i in insp.get_indexes("citizens")}
            # and the rows can still be written without the triggers' tables
        with engine.begin() as c:
            c.execute(text("UPDATE citizens SET name = 'Åse Lund' WHERE id = 1"))
        migrate(command.upgrade, "0009")  # and up again: the index built from the rows now
        assert found("åse lun") == {1}
        assert found("ærøbo") == set()
    finally:
        engine.dispose()
