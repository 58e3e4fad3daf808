"""Who may do what, as the program enforces it (SQLite; on PostgreSQL see test_security_pg)."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from hjemmeprove.app import App
from hjemmeprove.cli import main
from hjemmeprove.errors import PermissionDenied, ValidationError
from hjemmeprove.logging_setup import CprMaskingFilter
from hjemmeprove.security import (
    PERMISSIONS,
    add_user,
    deactivate_user,
    identity,
    list_users,
    require,
)
from tests.factories import request_values

TODAY = dt.date(2024, 3, 20)
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def shared(department_app, tmp_path):
    """A department database with three users; returns a function: username -> App."""
    url = department_app.store.url
    add_user(department_app.store, "test", "administrator")  # the fixture's own user
    add_user(department_app.store, "kari", "coordinator", "Kari Koordinator")
    add_user(department_app.store, "frank", "finance")
    apps = []

    def as_user(name):
        a = App(url, user=name, upgrade=False)
        apps.append(a)
        return a

    yield as_user
    for a in apps:
        a.close()


def test_empty_users_table_is_single_user_administrator_with_all_rights(app):
    who = identity(app.store)
    assert who.single_user and who.all_rights
    for action in PERMISSIONS:
        require(app.store, action)


def test_the_permission_table_gives_money_to_finance_and_settings_to_the_administrator():
    roles = {action: allowed for action, (allowed, _) in PERMISSIONS.items()}
    assert roles["rates.edit"] == roles["agreements.edit"] == roles["invoices.issue"] == {"finance"}
    assert roles["settings.edit"] == roles["users.manage"] == {"administrator"}
    assert "coordinator" in roles["requests.edit"]
    assert "finance" not in roles["requests.edit"]


def test_coordinator_edits_requests_but_not_settings_rates_or_invoices(shared):
    kari = shared("kari")
    rid = kari.requests.create(request_values(), today=TODAY)
    assert kari.requests.get(rid).name == "Karen Jensen"
    with pytest.raises(PermissionDenied) as e:
        kari.settings.set("retention.years", 10)
    assert "kari må ikke ændre indstillinger" in str(e.value)
    assert "administrator" in str(e.value)
    for action in ("rates.edit", "agreements.edit", "invoices.issue", "users.manage"):
        with pytest.raises(PermissionDenied):
            require(kari.store, action)
    assert kari.settings.get("retention.years") == 5  # nothing written


def test_finance_issues_but_cannot_edit_requests(shared):
    frank = shared("frank")
    require(frank.store, "invoices.issue")
    require(frank.store, "rates.edit")
    with pytest.raises(PermissionDenied) as e:
        frank.requests.create(request_values(), today=TODAY)
    assert "koordinator" in str(e.value)
    assert frank.requests.count() == 0


def test_administrator_sets_settings_and_users_but_not_money(shared):
    admin = shared("test")
    admin.settings.set("retention.years", 7)
    assert admin.settings.get("retention.years") == 7
    with pytest.raises(PermissionDenied):
        require(admin.store, "invoices.issue")
    with pytest.raises(PermissionDenied):
        admin.requests.create(request_values(), today=TODAY)


def test_unknown_or_deactivated_user_may_change_nothing(shared):
    stranger = shared("mallory")
    assert identity(stranger.store).roles == frozenset()
    with pytest.raises(PermissionDenied):
        stranger.requests.create(request_values(), today=TODAY)
    deactivate_user(shared("test").store, "kari")
    with pytest.raises(PermissionDenied):
        shared("kari").requests.create(request_values(), today=TODAY)


def test_the_first_user_must_be_an_administrator_and_one_must_remain(app):
    with pytest.raises(ValidationError) as e:
        add_user(app.store, "kari", "coordinator")
    assert e.value.fields == {"rolle"}
    assert list_users(app.store) == []
    add_user(app.store, "test", "administrator")
    with pytest.raises(ValidationError):
        deactivate_user(app.store, "test")
    with pytest.raises(ValidationError) as e:
        add_user(app.store, "x y", "boss")
    assert e.value.fields == {"brugernavn", "rolle"}


def test_every_change_is_in_the_audit_trail_with_the_user(shared):
    kari = shared("kari")
    rid = kari.requests.create(request_values(), today=TODAY)
    shared("test").settings.set("retention.years", 6)
    history = kari.requests.history(rid)
    assert [(h.user, h.action) for h in history] == [("kari", "insert")]
    from sqlalchemy import select

    from hjemmeprove.db.models import AuditEntry

    with kari.store.session() as s:
        rows = s.execute(select(AuditEntry.user, AuditEntry.table_name)).all()
    assert ("test", "settings") in rows and ("test", "users") in rows


def test_program_offers_no_way_to_edit_the_audit_trail():
    import hjemmeprove.services.requests as requests_mod
    from hjemmeprove.cli import build_parser

    assert not [n for n in dir(requests_mod.RequestService) if "audit" in n.lower()]
    commands = build_parser()._subparsers._group_actions[0].choices
    assert not [c for c in commands if "audit" in c]


def test_users_cli(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'u.sqlite3'}"
    assert main(["--db", url, "--user", "boss", "users", "add", "boss", "--role",
                 "administrator"]) == 0
    assert main(["--db", url, "--user", "boss", "users", "add", "kari", "--role",
                 "coordinator", "--name", "Kari K"]) == 0
    capsys.readouterr()
    assert main(["--db", url, "users", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["username"], r["role"]) for r in rows} == {("boss", "administrator"),
                                                        ("kari", "coordinator")}
    assert main(["--db", url, "--user", "kari", "users", "add", "eve", "--role",
                 "administrator"]) == 1
    assert "kari må ikke oprette og rette brugere" in capsys.readouterr().err
    assert main(["--db", url, "--user", "kari", "roles", "whoami", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["roles"] == ["coordinator"]
    assert main(["--db", url, "users", "add", "x", "--role", "chef"]) == 2
    assert "rolle" in capsys.readouterr().err


# --- CPR in logs and messages ------------------------------------------------------------


def test_log_filter_masks_cpr_in_messages_arguments_and_tracebacks():
    record = logging.LogRecord("hjemmeprove", logging.ERROR, __file__, 1,
                               "borger %s i %s", ("0101501234", "010150-1234"), None)
    try:
        raise ValueError("cpr 010150-1234 kendes ikke")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    CprMaskingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "1234" not in text
    assert "010150-XXXX" in text


def test_cli_installs_the_filter_and_errors_never_show_a_full_cpr(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    csv = tmp_path / "r.csv"
    csv.write_text("cpr;navn;adresse;postnr;by;kommunekode;modtaget\n"
                   "010150-1234;A;B;5700;Svendborg;999;2024-03-01\n", encoding="utf-8")
    assert main(["--db", url, "requests", "import", str(csv)]) == 2
    err = capsys.readouterr().err
    assert "kommunekode" in err and "010150-1234" not in err
    root = logging.getLogger()
    assert any(isinstance(f, CprMaskingFilter) for h in root.handlers for f in h.filters)


def test_lists_show_cpr_masked(department_app):
    department_app.requests.create(request_values(), today=TODAY)
    row = department_app.requests.list()[0]
    assert row.cpr_masked == "010150-XXXX"
    assert "1234" not in repr(row)


def test_roles_setup_is_postgres_only_but_prints_its_sql(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    assert main(["--db", url, "roles", "setup"]) == 1
    assert "kun på PostgreSQL" in capsys.readouterr().err
    assert main(["roles", "setup", "--print"]) == 0
    out = capsys.readouterr().out
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON \"invoices\" TO hjemmeprove_finance" in out
    assert "CREATE TRIGGER hjemmeprove_audit_guard_row" in out


def test_sqlite_store_runs_in_wal_with_full_sync(app):
    with app.store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
