"""On PostgreSQL the roles are database roles: the database refuses what a role may not do,
even to a connection that bypasses the program (raw SQL as the coordinator's login)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from hjemmeprove.app import App
from hjemmeprove.db import pg_roles
from hjemmeprove.errors import PermissionDenied
from hjemmeprove.security import add_user, identity, require
from hjemmeprove.services.reference import load_defaults
from tests.factories import add_department, request_values
from tests.test_concurrency import issue_next

TODAY = dt.date(2024, 3, 20)
pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_url):
    """A department database with roles set up and three logins; yields (owner app, urls)."""
    owner = App(pg_url, user="test")
    load_defaults(owner.store)
    add_department(owner)
    pg_roles.setup(owner.store)
    suffix = uuid.uuid4().hex[:6]
    logins = {role: f"hp_{role[:5]}_{suffix}" for role in ("coordinator", "finance",
                                                           "administrator")}
    for role, login in logins.items():
        add_user(owner.store, login, role)
    base = make_url(pg_url)
    urls = {role: base.set(username=login).render_as_string(hide_password=False)
            for role, login in logins.items()}
    yield owner, urls
    owner.close()
    _drop_logins(pg_url, logins.values())


def _drop_logins(pg_url, logins):
    eng = create_engine(make_url(pg_url), isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE usename = ANY(:n)"), {"n": list(logins)})
        for login in logins:
            c.execute(text(f'DROP ROLE IF EXISTS "{login}"'))
    eng.dispose()


def _sql(url, stmt, **params):
    eng = create_engine(url)
    try:
        with eng.begin() as c:
            return c.execute(text(stmt), params)
    finally:
        eng.dispose()


def _refused(url, stmt, **params) -> str:
    with pytest.raises(DBAPIError) as e:
        _sql(url, stmt, **params)
    return str(e.value.orig)


def test_roles_map_to_database_roles(pg):
    owner, urls = pg
    assert identity(owner.store).all_rights  # the owner (superuser) who set it up
    for role, url in urls.items():
        a = App(url, upgrade=False)
        try:
            assert identity(a.store).roles == {role}
        finally:
            a.close()


def test_coordinator_works_through_the_program_within_its_rights(pg):
    owner, urls = pg
    kari = App(urls["coordinator"], user="kari", upgrade=False)
    try:
        rid = kari.requests.create(request_values(), today=TODAY)  # privileges suffice
        assert kari.requests.get(rid).cpr == "010150-1234"
        # a search's count reads the rows' narrow copy (migration 0013), which its trigger
        # wrote as the table's owner; no role writes it
        for term in ("ka", "jensen", "vestergade"):
            assert kari.requests.count(search=term) == 1, term
        assert "permission denied" in _refused(
            urls["coordinator"], "UPDATE requests_text SET search_text = 'x'")
        assert "permission denied" in _refused(
            urls["administrator"], "DELETE FROM requests_text")
        with pytest.raises(PermissionDenied):
            kari.settings.set("retention.years", 9)
        with pytest.raises(PermissionDenied):
            require(kari.store, "invoices.issue")
        # the audit trail names the database login that wrote, whatever --user says
        user = kari.requests.history(rid)[0].user
        assert user.startswith(make_url(urls["coordinator"]).username) and "(kari)" in user
    finally:
        kari.close()


def test_coordinator_connection_cannot_change_an_issued_invoice_even_outside_the_program(pg):
    owner, urls = pg
    number = issue_next(owner.store)
    coord = urls["coordinator"]
    for stmt in ("UPDATE invoices SET total = 0 WHERE number = :n",
                 "DELETE FROM invoices WHERE number = :n",
                 "UPDATE number_sequences SET last_value = 0",
                 "INSERT INTO announced_rates (year, kind, amount, source) "
                 "VALUES (2030, 'per_referral', 1, 'x')",
                 "UPDATE settings SET value = '1'",
                 "DELETE FROM audit_log"):
        assert "permission denied" in _refused(coord, stmt, n=number)


def test_nobody_changes_an_issued_invoice_or_the_audit_trail_not_even_the_owner(pg):
    owner, urls = pg
    number = issue_next(owner.store)
    owner_url = owner.store.url
    for url in (urls["finance"], owner_url):
        msg = _refused(url, "UPDATE invoices SET total = 0 WHERE number = :n", n=number)
        assert "er udstedt" in msg
        assert "er udstedt" in _refused(url, "DELETE FROM invoices WHERE number = :n", n=number)
        assert "kan ikke slettes eller sættes tilbage" in _refused(
            url, "UPDATE number_sequences SET last_value = last_value - 1")
    assert "revisionssporet" in _refused(owner_url, "DELETE FROM audit_log")
    assert "revisionssporet" in _refused(owner_url, "UPDATE audit_log SET \"user\" = 'x'")
    assert "revisionssporet" in _refused(
        owner_url, "UPDATE audit_log SET after = '{\"note\": \"ændret\"}' "
                   "WHERE table_name = 'municipalities'")
    assert "kan ikke tømmes" in _refused(owner_url, "TRUNCATE audit_log")
    # finance still issues the next number through its own login
    fin = App(urls["finance"], user="frank", upgrade=False)
    try:
        assert issue_next(fin.store) == number + 1
    finally:
        fin.close()


def test_the_administrator_may_only_redact_the_audit_trail(pg):
    owner, urls = pg
    with owner.store.session() as s:
        eid, after = s.execute(text(
            "SELECT id, after FROM audit_log WHERE table_name = 'departments'")).first()
    data = json.loads(after)
    redacted = dict(data, name="[slettet]")
    _sql(urls["administrator"], "UPDATE audit_log SET after = :a WHERE id = :i",
         a=json.dumps(redacted), i=eid)
    forged = dict(data, name="Et andet navn")
    assert "revisionssporet" in _refused(urls["administrator"],
                                         "UPDATE audit_log SET after = :a WHERE id = :i",
                                         a=json.dumps(forged), i=eid)
    assert "permission denied" in _refused(urls["administrator"],
                                           "UPDATE audit_log SET action = 'x' WHERE id = :i",
                                           i=eid)
    assert "permission denied" in _refused(urls["coordinator"],
                                           "UPDATE audit_log SET after = :a WHERE id = :i",
                                           a=json.dumps(redacted), i=eid)


def test_setup_is_repeatable_and_printable(pg):
    owner, _ = pg
    pg_roles.setup(owner.store)
    sql = "\n".join(pg_roles.setup_sql())
    assert "hjemmeprove_coordinator" in sql and "CREATE TRIGGER" in sql


def test_billing_works_within_finance_privileges_and_the_guards(pg):
    """The real issue and credit-note paths pass the triggers; a coordinator's login cannot
    issue even by calling the billing code directly."""
    from hjemmeprove.errors import HjemmeproveError
    from tests.test_concurrency import _drafts

    owner, urls = pg
    drafts = _drafts(owner, 1)
    kari = App(urls["coordinator"], user="kari", upgrade=False)
    fin = App(urls["finance"], user="frank", upgrade=False)
    try:
        with pytest.raises((DBAPIError, HjemmeproveError)):
            kari.billing.issue(drafts[0], issue_date=dt.date(2020, 2, 1))
        first = fin.billing.issue(drafts[0], issue_date=dt.date(2020, 2, 1))
        assert first.number == 1 and first.status == "issued"
        credit = fin.billing.credit_note(drafts[0], "forkert adresse",
                                         issue_date=dt.date(2020, 2, 2))
        assert credit.number == 2
        assert "er udstedt" in _refused(urls["finance"],
                                        "UPDATE invoice_lines SET amount = 0 WHERE invoice_id = :i",
                                        i=drafts[0])
        assert "er udstedt" in _refused(urls["finance"],
                                        "DELETE FROM invoice_documents WHERE invoice_id = :i",
                                        i=drafts[0])
    finally:
        kari.close()
        fin.close()


def test_roles_cli(pg, capsys):
    from hjemmeprove.cli import main

    owner, urls = pg
    assert main(["--db", owner.store.url, "roles", "setup"]) == 0
    assert "hjemmeprove_finance" in capsys.readouterr().out
    assert main(["--db", urls["coordinator"], "roles", "setup"]) == 1  # not the admin's login
    assert "må ikke oprette databaseroller" in capsys.readouterr().err
    assert main(["--db", urls["finance"], "roles", "whoami", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["roles"] == ["finance"]


def test_a_month_by_roles_fits_the_database_privileges(pg):
    """Each role does its part of a month through the program on its own login: the
    coordinator imports, plans, sends replies and closes the day; finance enters rates,
    runs and issues. The privilege table must not stop any of it."""
    from hjemmeprove.services.importing import import_requests

    owner, urls = pg
    kari = App(urls["coordinator"], user="kari", upgrade=False)
    fin = App(urls["finance"], user="frank", upgrade=False)
    try:
        csv = "\n".join(["cpr;navn;adresse;postnr;by;kommunekode;modtaget;lat;lon"] + [
            f"{i + 1:02d}0250-{2000 + i};Borger {i};Bygade {i + 1};5700;Svendborg;479;"
            f"2020-03-02;55.0{6 + i % 3};10.6{i}" for i in range(4)]).encode()
        import_requests(kari.requests, csv, today=dt.date(2020, 3, 2))
        kari.planning.plan(dt.date(2020, 3, 9), dt.date(2020, 3, 13), time_limit_s=2)
        kari.planning.send_replies(dt.date(2020, 3, 9), dt.date(2020, 3, 13),
                                   now=dt.datetime(2020, 3, 5, 12))
        with kari.store.session() as s:
            visits = list(s.scalars(text("SELECT id FROM visits").columns()))
            routes = list(s.scalars(text("SELECT id FROM routes").columns()))
        assert visits and routes
        for vid in visits:
            kari.day_close.record_outcome(vid, "taken")
        for rid in routes:
            kari.day_close.record_route(rid, "42.5", confirm=True)
        from tests.test_invoice_fixtures import set_2020_rates

        set_2020_rates(fin)
        [draft] = fin.billing.run("2020-03")
        issued = fin.billing.issue(draft.id, issue_date=dt.date(2020, 4, 1))
        assert issued.number == 1 and issued.total > 0
        with pytest.raises((DBAPIError, PermissionDenied)):
            kari.billing.run("2020-03")
    finally:
        kari.close()
        fin.close()


def test_nothing_can_be_added_to_an_issued_invoice_by_any_role(pg):
    """A finance login (or the owner) cannot add lines, items or a forged PDF to an issued
    invoice, nor move a draft's rows onto it; drafts stay editable and issuing still works."""
    from tests.test_concurrency import _drafts

    owner, urls = pg
    drafts = _drafts(owner, 1)
    fin = App(urls["finance"], user="frank", upgrade=False)
    try:
        issued = fin.billing.issue(drafts[0], issue_date=dt.date(2020, 2, 1))
    finally:
        fin.close()
    with owner.store.session() as s:
        visit_id = s.execute(text("SELECT visit_id FROM invoice_items WHERE invoice_id = :i"),
                             {"i": issued.id}).scalar()
    forged = {
        "invoice_lines": "INSERT INTO invoice_lines (invoice_id, position, code, text, quantity, "
                         "unit, rate, amount) VALUES (:i, 9, 'x', 'Ekstra', 1, 'stk.', 500, 500)",
        "invoice_items": "INSERT INTO invoice_items (invoice_id, visit_id, date, citizen_name, "
                         "cpr, outcome, billable, km_share, ferry_share, km_planned, ekg) VALUES "
                         "(:i, :v, '2020-01-10', 'X', '010150-XXXX', 'taken', true, 1, 0, "
                         "false, false)",
        "invoice_documents": "INSERT INTO invoice_documents (invoice_id, kind, filename, content, "
                             "sha256) VALUES (:i, 'invoice_pdf', 'falsk.pdf', '\\x25504446', "
                             "'0')",
    }
    for url in (urls["finance"], owner.store.url):
        for table, stmt in forged.items():
            msg = _refused(url, stmt, i=issued.id, v=visit_id)
            assert "kan ikke tilføjes" in msg, (table, msg)
        # rows of a draft moved onto the issued invoice
        assert "er udstedt" in _refused(
            url, "UPDATE invoice_lines SET invoice_id = :i WHERE invoice_id = :d",
            i=issued.id, d=drafts[1])
    # a draft's rows may still change (the run replaces drafts)
    _sql(urls["finance"], "UPDATE invoice_lines SET text = text WHERE invoice_id = :d",
         d=drafts[1])


def test_invoice_numbers_come_only_from_issuing(pg):
    """No role advances the counter by hand (that would leave a gap) or sets a number that
    was not taken from it in the same transaction; the issuing path still numbers 1, 2, 3."""
    from tests.test_concurrency import _drafts

    owner, urls = pg
    drafts = _drafts(owner, 1)
    fin = App(urls["finance"], user="frank", upgrade=False)
    try:
        assert fin.billing.issue(drafts[0], issue_date=dt.date(2020, 2, 1)).number == 1
        for url in (urls["finance"], owner.store.url):
            msg = _refused(url, "UPDATE number_sequences SET last_value = last_value + 1")
            assert "kun tælles op ved udstedelse" in msg
            msg = _refused(url, "UPDATE number_sequences SET last_value = last_value + 5")
            assert "kun tælles op ved udstedelse" in msg
            # a number put on a draft without the counter
            msg = _refused(url, "UPDATE invoices SET number = 7, status = 'issued', "
                                "issue_date = '2020-02-01' WHERE id = :d", d=drafts[1])
            assert "ikke taget fra nummerserien" in msg
        assert fin.billing.issue(drafts[1], issue_date=dt.date(2020, 2, 1)).number == 2
        assert fin.billing.credit_note(drafts[0], "forkert", issue_date=dt.date(2020, 2, 2)
                                       ).number == 3
        assert fin.billing.issue(drafts[2], issue_date=dt.date(2020, 2, 3)).number == 4
    finally:
        fin.close()
    with owner.store.session() as s:
        numbers = sorted(s.scalars(text("SELECT number FROM invoices WHERE number IS NOT NULL")))
        assert numbers == [1, 2, 3, 4]
        assert s.execute(text("SELECT last_value FROM number_sequences")).scalar() == 4
