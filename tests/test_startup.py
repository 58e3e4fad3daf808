"""Start-up pays only for what a command uses: what the CLI imports and what the schema check
does on a current database. Behaviour, not timings (bench/startup.py measures those)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hjemmeprove.app import App

ROOT = Path(__file__).resolve().parents[1]

# What a command that prints a date or a list has no use for.
HEAVY = ("ortools", "reportlab", "babel", "lxml", "alembic", "PySide6", "hjemmeprove.planning",
         "hjemmeprove.documents.common", "hjemmeprove.db.models", "sqlalchemy",
         "sqlalchemy.orm", "hjemmeprove.db.store", "hjemmeprove.security")

PROBE = """
import json, sys
from hjemmeprove.cli import main
rc = main(sys.argv[1:])
heavy = {heavy!r}
loaded = sorted(m for m in heavy if m in sys.modules)
print("\\nMODULES " + json.dumps({{"rc": rc, "loaded": loaded}}))
"""


def run_cli(*argv: str, db: str | None = None) -> tuple[dict, str]:
    env = dict(os.environ)
    env.pop("HJEMMEPROVE_DB", None)
    if db:
        env["HJEMMEPROVE_DB"] = db
    out = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert "MODULES " in out.stdout, out.stderr
    head, _, tail = out.stdout.rpartition("MODULES ")
    return json.loads(tail), head


@pytest.fixture
def current_db(tmp_path):
    from hjemmeprove.services.reference import load_defaults

    url = f"sqlite:///{tmp_path / 'cur.sqlite3'}"
    app = App(url, user="test")  # created at the newest schema
    load_defaults(app.store)
    app.close()
    return url


def test_calendar_deadline_imports_no_planner_pdf_alembic_or_models(current_db):
    """The calendar reads two small tables: no planner, no PDF library, no Alembic on a
    current schema, not the ORM's model classes, and on a SQLite file not SQLAlchemy at all
    (its import alone cost more than the rest of the command)."""
    result, out = run_cli("calendar", "deadline", "2024-03-22", db=current_db)
    assert result["rc"] == 0
    assert out.strip() == "2024-04-10"
    assert result["loaded"] == []
    result, out = run_cli("calendar", "deadline", "2024-03-22", "--json", db=current_db)
    assert result["rc"] == 0 and result["loaded"] == []
    assert json.loads(out) == {"received": "2024-03-22", "deadline": "2024-04-10"}
    result, out = run_cli("calendar", "workdays", "2024-03-27", "2024-04-02", db=current_db)
    assert result["rc"] == 0 and result["loaded"] == []
    assert out.split() == ["2024-03-27", "2024-04-02"]  # Easter: Thursday to Monday closed


def test_help_and_request_list_import_nothing_heavy(current_db):
    result, out = run_cli("--help", db=current_db)
    assert result["rc"] == 0 and "calendar" in out
    assert result["loaded"] == []
    result, _ = run_cli("requests", "list", "--json", db=current_db)
    assert result["rc"] == 0
    # the ORM's models (and so SQLAlchemy), nothing more
    assert result["loaded"] == ["hjemmeprove.db.models", "hjemmeprove.db.store",
                                "hjemmeprove.security", "sqlalchemy", "sqlalchemy.orm"]


def test_a_command_that_prints_money_still_formats_it_the_danish_way(current_db):
    result, out = run_cli("fees", "quote", "--date", "2020-06-01", "--referrals", "10",
                          "--km", "84.3", db=current_db)
    assert result["rc"] == 0, out
    assert "2.205,53\xa0kr." in out  # babel's Danish amount, loaded when it is used
    assert "babel" in result["loaded"]
    assert "ortools" not in result["loaded"]


def test_a_new_database_is_migrated_and_a_current_one_is_checked_without_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    result, _ = run_cli("calendar", "deadline", "2024-03-22", db=url)
    assert result["rc"] == 0
    assert "alembic" in result["loaded"]  # a new database: Alembic creates the schema
    result, _ = run_cli("calendar", "deadline", "2024-03-22", db=url)
    assert "alembic" not in result["loaded"]  # now current: one query decides


def test_is_current_compares_the_stored_revision_with_the_scripts_head(current_db):
    from sqlalchemy import text

    from hjemmeprove.db import migrate
    from hjemmeprove.db.store import Store

    store = Store(current_db)
    try:
        assert migrate.is_current(store)
        with store.engine.begin() as conn:  # as if the program were older than the scripts
            conn.execute(text("UPDATE alembic_version SET version_num = '0006'"))
        assert not migrate.is_current(store)
        with store.engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
        assert not migrate.is_current(store)  # no table: a new database, Alembic decides
    finally:
        store.dispose()


def test_an_older_schema_is_still_upgraded_by_alembic(tmp_path):
    """The cheap check must not hide a real migration: a database stamped one revision back
    (its last migration undone) is migrated to the head on open."""
    from alembic import command

    from hjemmeprove.db import migrate

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    app = App(url, user="test")
    head = migrate.head_revision(app.store)
    with app.store.engine.connect() as conn:
        cfg = migrate.alembic_config(url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
        conn.commit()
    assert migrate.current_revision(app.store) != head
    assert not migrate.is_current(app.store)
    app.close()
    app = App(url, user="test")
    try:
        assert migrate.current_revision(app.store) == head
        assert migrate.is_current(app.store)
    finally:
        app.close()


def test_a_database_from_a_newer_program_is_refused_in_danish_and_left_as_it_is(
        tmp_path, capsys):
    """A colleague's newer program migrated the shared database: this one says so (exit 1,
    no traceback) and neither copies nor changes the database."""
    from sqlalchemy import create_engine, text

    from hjemmeprove.cli import main

    db = tmp_path / "nyere.sqlite3"
    url = f"sqlite:///{db}"
    App(url, user="test").close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    assert main(["--db", url, "calendar", "deadline", "2026-11-20"]) == 1
    err = capsys.readouterr().err
    assert "skemaversion 9999" in err and "nyere version" in err
    assert "Traceback" not in err and "CommandError" not in err
    assert not [p.name for p in tmp_path.iterdir() if "before-migration" in p.name]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999"
    engine.dispose()


def test_the_scripts_head_read_from_their_text_is_alembics(tmp_path):
    from alembic.script import ScriptDirectory

    from hjemmeprove.db import schema_scripts

    heads = ScriptDirectory.from_config(schema_scripts.alembic_config("sqlite://")).get_heads()
    assert schema_scripts.script_heads() == frozenset(heads)


def test_a_script_that_does_not_read_plainly_falls_back_to_alembic(tmp_path, monkeypatch):
    from hjemmeprove.db import schema_scripts

    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "versions" / "0001_x.py").write_text("revision = make_id()\n"
                                                   "down_revision = None\n")
    monkeypatch.setattr(schema_scripts, "MIGRATIONS", scripts)
    assert schema_scripts.script_heads() is None


def test_reportlab_uses_its_c_accelerator():
    """rl_accel is a dependency: reportlab's number formatting and font metrics in C."""
    from reportlab.lib import rl_accel

    assert "fp_str" in rl_accel._c_funcs
    assert "instanceStringWidthTTF" in rl_accel._c_funcs


def test_the_settings_reads_name_the_models_tables_and_columns():
    """Settings reads its two tables as plain SQL clauses (no models loaded); they must be
    the models' tables, column for column."""
    from hjemmeprove.db.models import ClosingDay, Setting
    from hjemmeprove.settings import CLOSING_DAYS_TABLE, SETTINGS_TABLE

    for clause, model in ((SETTINGS_TABLE, Setting), (CLOSING_DAYS_TABLE, ClosingDay)):
        assert clause.name == model.__tablename__
        for col in clause.c:
            assert col.name in model.__table__.c
            assert type(col.type)._type_affinity is type(model.__table__.c[col.name].type) \
                ._type_affinity


def test_settings_and_closing_days_read_without_the_orm_agree_with_what_was_written(app):
    import datetime as dt

    app.settings.set("planning.lunch_minutes", 45)
    app.settings.set("closing.christmas_eve", False)
    app.settings.add_closing_day(dt.date(2024, 5, 10), "Dagen efter Kristi himmelfart")
    app.settings.add_closing_day(dt.date(2024, 8, 1))
    assert app.settings.get("planning.lunch_minutes") == 45
    assert app.settings.all()["closing.christmas_eve"] is False
    cal = app.calendar()
    assert not cal.is_working_day(dt.date(2024, 5, 10))
    assert not cal.is_working_day(dt.date(2024, 8, 1))
    assert cal.is_working_day(dt.date(2024, 12, 24))  # Christmas Eve: open, as set


def test_the_calendar_read_without_sqlalchemy_is_the_stores(app, tmp_path):
    """``settings.read_calendar`` (sqlite3 only) and ``Settings.calendar`` (through the
    Store) give the same calendar: options, closing days and their reasons."""
    import datetime as dt

    from hjemmeprove.settings import read_calendar

    app.settings.set("closing.christmas_eve", False)
    app.settings.set("closing.constitution_day", False)
    app.settings.add_closing_day(dt.date(2024, 5, 10), "Dagen efter Kristi himmelfart")
    app.settings.add_closing_day(dt.date(2024, 8, 1))
    lean = read_calendar(app.store.url)
    if not app.store.is_sqlite:
        assert lean is None  # PostgreSQL: the Store's path
        return
    full = app.calendar()
    first, last = dt.date(2024, 1, 1), dt.date(2025, 12, 31)
    assert lean.working_days(first, last) == full.working_days(first, last)
    assert lean.why_closed(dt.date(2024, 5, 10)) == "Dagen efter Kristi himmelfart"
    assert lean.why_closed(dt.date(2024, 8, 1)) == full.why_closed(dt.date(2024, 8, 1))
    assert lean.is_working_day(dt.date(2024, 12, 24))
    assert lean.is_working_day(dt.date(2025, 6, 5))
    assert lean.deadline(dt.date(2024, 5, 1)) == full.deadline(dt.date(2024, 5, 1))


def test_the_lean_read_leaves_what_it_cannot_read_to_the_store(tmp_path, current_db):
    """No file: None, and no file is made (the ordinary path creates it with its schema); an
    older schema or another kind of URL: None (the ordinary path migrates or connects)."""
    import sqlite3

    from hjemmeprove.db.lean import sqlite_file
    from hjemmeprove.settings import read_calendar

    missing = tmp_path / "none" / "x.sqlite3"
    assert read_calendar(f"sqlite:///{missing}") is None
    assert not missing.exists() and not missing.parent.exists()
    assert read_calendar("sqlite://") is None
    assert read_calendar("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://u@h/db") is None
    assert sqlite_file("sqlite:///x.db?timeout=3") is None
    assert sqlite_file("sqlite:////abs/x.db") == "/abs/x.db"
    assert read_calendar(current_db) is not None
    path = current_db.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0006'")
    assert read_calendar(current_db) is None


def _subcommands(parser) -> dict:
    import argparse

    return next((a.choices for a in parser._actions
                 if isinstance(a, argparse._SubParsersAction)), {})


def test_a_command_line_builds_only_its_command_the_same_as_the_whole_tree():
    """``main`` builds only the named command's parser (argparse made ~85 for the whole
    tree); each command, and each of its subcommands, must come out exactly as in the full
    parser, and routes export (added by another module) too."""
    from hjemmeprove.cli import build_parser

    full = _subcommands(build_parser())
    assert "routes" in full and "export" in _subcommands(full["routes"])
    for name, parser in full.items():
        only = _subcommands(build_parser(name))
        assert list(only) == [name]
        assert only[name].format_help() == parser.format_help()
        nested, nested_only = _subcommands(parser), _subcommands(only[name])
        assert list(nested_only) == list(nested)
        for sub_name, sub in nested.items():
            assert nested_only[sub_name].format_help() == sub.format_help()
    assert list(_subcommands(build_parser("no-such-command"))) == list(full)


def test_a_command_without_its_action_prints_the_whole_help(capsys):
    from hjemmeprove.cli import main

    assert main(["calendar"]) == 2
    out = capsys.readouterr().out
    assert "calendar" in out and "invoice" in out and "routes" in out
