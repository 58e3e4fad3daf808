"""backup and restore: a consistent online copy, checked after it is written; the schema
copied before a migration."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import threading

import pytest
from sqlalchemy import func, select

from hjemmeprove import backup as backup_mod
from hjemmeprove.app import App
from hjemmeprove.backup import backup_database, restore_database
from hjemmeprove.cli import main
from hjemmeprove.db import migrate
from hjemmeprove.db.models import Request
from hjemmeprove.errors import HjemmeproveError
from tests.factories import request_values

TODAY = dt.date(2024, 3, 20)


def _cpr(i: int) -> str:
    return f"{(i % 28) + 1:02d}{(i // 28) % 12 + 1:02d}{50 + i // 336:02d}-{1000 + i:04d}"


def _count(app) -> int:
    with app.store.session() as s:
        return s.scalar(select(func.count()).select_from(Request))


def _snapshot_is_consistent(path) -> int:
    """Every request in the copy has its audit entry and vice versa (one transaction each)."""
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {r[0] for r in con.execute("SELECT id FROM requests")}
        audited = {int(r[0]) for r in con.execute(
            "SELECT row_key FROM audit_log WHERE table_name='requests' AND action='insert'")}
        assert ids == audited
        return len(ids)
    finally:
        con.close()


@pytest.mark.sqlite_only
def test_online_backup_while_another_user_writes_is_consistent(department_app, tmp_path):
    url = department_app.store.url
    writer = App(url, user="kari", upgrade=False)
    stop = threading.Event()
    written = []

    def write():
        i = 0
        while not stop.is_set() and i < 400:
            written.append(writer.requests.create(request_values(cpr=_cpr(i)), today=TODAY))
            i += 1

    t = threading.Thread(target=write)
    t.start()
    sizes = []
    try:
        for k in range(6):
            dest = backup_database(department_app.store, tmp_path / f"kopi{k}.sqlite3")
            sizes.append(_snapshot_is_consistent(dest))
    finally:
        stop.set()
        t.join()
        writer.close()
    assert sizes == sorted(sizes)  # later copies hold at least as much
    assert not list(tmp_path.glob("*.partial"))
    final = backup_database(department_app.store, tmp_path / "final.sqlite3")
    assert _snapshot_is_consistent(final) == len(written)


@pytest.mark.sqlite_only
def test_a_failed_check_leaves_the_old_copy_and_no_partial_file(department_app, tmp_path,
                                                                monkeypatch):
    dest = tmp_path / "kopi.sqlite3"
    backup_database(department_app.store, dest)
    before = dest.read_bytes()
    department_app.requests.create(request_values(), today=TODAY)

    def broken(path, expect_tables=None):
        raise HjemmeproveError(f"{path}: kopien er beskadiget (test)")

    monkeypatch.setattr(backup_mod, "_check_sqlite", broken)
    with pytest.raises(HjemmeproveError):
        backup_database(department_app.store, dest)
    assert dest.read_bytes() == before
    assert not list(tmp_path.glob("*.partial*"))


@pytest.mark.sqlite_only
def test_backup_refuses_to_overwrite_the_database_itself(department_app, tmp_path):
    db = department_app.store.engine.url.database
    with pytest.raises(HjemmeproveError, match="selve databasen"):
        backup_database(department_app.store, db)
    with pytest.raises(HjemmeproveError, match="mappe"):
        backup_database(department_app.store, tmp_path)


@pytest.mark.sqlite_only
def test_restore_brings_back_the_copy_and_keeps_the_current_database(department_app, tmp_path):
    app = department_app
    first = app.requests.create(request_values(), today=TODAY)
    dest = backup_database(app.store, tmp_path / "kopi.sqlite3")
    later = app.requests.create(request_values(cpr="020260-4321", name="Ole Hansen"),
                                today=TODAY)
    kept = restore_database(app.store, dest)
    again = App(app.store.url, user="test")
    try:
        ids = [r.id for r in again.requests.list()]
        assert ids == [first]
        new = again.requests.create(request_values(cpr="030370-1111"), today=TODAY)
        assert new not in ids
    finally:
        again.close()
    con = sqlite3.connect(kept)
    try:  # the database as it was before the restore is kept, whole
        assert {r[0] for r in con.execute("SELECT id FROM requests")} == {first, later}
    finally:
        con.close()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("damage", ["garbage", "truncated", "not_ours", "newer"])
def test_restore_refuses_a_bad_copy_and_touches_nothing(department_app, tmp_path, damage):
    app = department_app
    app.requests.create(request_values(), today=TODAY)
    src = tmp_path / "bad.sqlite3"
    good = backup_database(app.store, tmp_path / "good.sqlite3")
    if damage == "garbage":
        src.write_bytes(b"dette er ikke en database" * 100)
    elif damage == "truncated":
        src.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "not_ours":
        sqlite3.connect(src).execute("CREATE TABLE x (a)").connection.close()
    else:
        shutil.copy(good, src)
        con = sqlite3.connect(src)
        con.execute("UPDATE alembic_version SET version_num = '9999_future'")
        con.commit()
        con.close()
    with pytest.raises(HjemmeproveError):
        restore_database(app.store, src)
    again = App(app.store.url, user="test")
    try:
        assert _count(again) == 1
    finally:
        again.close()


def test_cli_backup_and_restore(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert main(["--db", url, "backup", str(tmp_path / "k.sqlite3")]) == 0
    assert "kontrolleret" in capsys.readouterr().out
    assert main(["--db", url, "restore", str(tmp_path / "findes-ikke.sqlite3")]) == 1
    assert "findes ikke" in capsys.readouterr().err
    assert main(["--db", url, "restore", str(tmp_path / "k.sqlite3")]) == 0


@pytest.mark.sqlite_only
def test_the_database_is_copied_before_a_migration(tmp_path, monkeypatch):
    """A temporary copy of the migration scripts with a second revision: upgrading an
    existing database first writes a checked copy at the old revision."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, scripts,
                    ignore=shutil.ignore_patterns("__pycache__"))
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head()  # after every branch's
    (scripts / "versions" / "9002_test.py").write_text(
        '"""test"""\nfrom alembic import op\nimport sqlalchemy as sa\n'
        f'revision = "9002"\ndown_revision = "{head}"\nbranch_labels = None\n'
        'depends_on = None\n'
        'def upgrade():\n    op.create_table("x_test", sa.Column("id", sa.Integer, '
        'primary_key=True))\n'
        'def downgrade():\n    op.drop_table("x_test")\n')
    db = tmp_path / "db.sqlite3"
    a = App(f"sqlite:///{db}", user="test")  # at 0001 with the real scripts
    a.close()
    monkeypatch.setattr(migrate, "MIGRATIONS", scripts)
    b = App(f"sqlite:///{db}", user="test", upgrade=False)
    try:
        copy = migrate.upgrade(b.store)
        assert migrate.current_revision(b.store) == "9002"
    finally:
        b.close()
    assert copy is not None and copy.exists() and "before-migration" in copy.name
    con = sqlite3.connect(copy)
    try:
        assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


@pytest.mark.postgres
def test_postgres_backup_and_restore_round_trip(pg_url, tmp_path):
    from hjemmeprove.db import pg_roles
    from hjemmeprove.services.reference import load_defaults
    from tests.factories import add_department

    app = App(pg_url, user="test")
    try:
        load_defaults(app.store)
        add_department(app)
        pg_roles.setup(app.store)  # the guards must not stop a restore
        first = app.requests.create(request_values(), today=TODAY)
        dest = backup_database(app.store, tmp_path / "kopi.dump")
        assert dest.stat().st_size > 0 and not list(tmp_path.glob("*.partial"))
        app.requests.create(request_values(cpr="020260-4321"), today=TODAY)
        restore_database(app.store, dest)
        again = App(pg_url, user="test")
        try:
            assert [r.id for r in again.requests.list()] == [first]
            assert len(again.requests.history(first)) == 1
        finally:
            again.close()
        bad = tmp_path / "bad.dump"
        bad.write_bytes(b"PGDMP" + b"\0" * 50)
        with pytest.raises(HjemmeproveError, match="pg_restore"):
            restore_database(app.store, bad)
    finally:
        app.close()


@pytest.mark.sqlite_only
def test_only_the_administrator_restores(department_app, tmp_path):
    from hjemmeprove.errors import PermissionDenied
    from hjemmeprove.security import add_user

    app = department_app
    app.requests.create(request_values(), today=TODAY)
    dest = backup_database(app.store, tmp_path / "kopi.sqlite3")
    add_user(app.store, "test", "administrator")
    add_user(app.store, "kari", "coordinator")
    kari = App(app.store.url, user="kari", upgrade=False)
    try:
        with pytest.raises(PermissionDenied):
            restore_database(kari.store, dest)
        assert _count(kari) == 1
    finally:
        kari.close()
    restore_database(app.store, dest)
