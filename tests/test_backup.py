"""backup and restore: a consistent online copy, checked after it is written; the schema
copied before a migration."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import threading

import pytest
from sqlalchemy import func, select

from hjemmeprove import backup as backup_mod
from hjemmeprove.app import App
from hjemmeprove.backup import backup_database, restore_database
from hjemmeprove.cli import main
from hjemmeprove.db import migrate, schema_scripts
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
    assert main(["--db", url, "restore", str(tmp_path / "findes-ikke.sqlite3")]) == 2  # bad input: checked before anything is opened
    assert "findes ikke" in capsys.readouterr().err
    assert main(["--db", url, "restore", str(tmp_path / "k.sqlite3")]) == 0


def test_backup_to_an_unusable_folder_is_an_error_naming_it(department_app, tmp_path, capsys):
    """A destination whose folder cannot be made (a file stands in the path, or the system
    refuses the folder) is a Danish error naming the path: the window shows it as such, the
    command line exits 1 with it. ``backup_database`` used to let the OSError through, which
    the command line reported as "uventet fejl: FileNotFoundError" with a traceback (it
    checks the path first, but that check cannot foresee everything: /proc as root)."""
    (tmp_path / "fil").write_text("x")
    for dest in (tmp_path / "fil" / "k.sqlite3", tmp_path / "fil" / "under" / "k.sqlite3"):
        with pytest.raises(HjemmeproveError, match="mappe") as e:
            backup_database(department_app.store, dest)
        assert str(tmp_path / "fil") in str(e.value)
    assert sorted(p.name for p in (tmp_path / "fil").parent.iterdir()
                  if p.name.startswith(("fil", ".k"))) == ["fil"]
    if department_app.store.is_sqlite and os.path.isdir("/proc/self"):
        url = str(department_app.store.engine.url)
        assert main(["--db", url, "backup", "/proc/findes-ikke/k.sqlite3"]) in (1, 2)
        err = capsys.readouterr().err
        assert "/proc" in err and "uventet" not in err and "Traceback" not in err, err


@pytest.mark.sqlite_only
def test_the_database_is_copied_before_a_migration(tmp_path, monkeypatch):
    """A temporary copy of the migration scripts with a second revision: upgrading an
    existing database first writes a checked copy at the old revision."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    scripts = tmp_path / "migrations"
    shutil.copytree(schema_scripts.MIGRATIONS, scripts,
                    ignore=shutil.ignore_patterns("__pycache__"))
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
    monkeypatch.setattr(schema_scripts, "MIGRATIONS", scripts)
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


@pytest.mark.sqlite_only
def test_restore_refuses_a_copy_without_the_audit_trail(department_app, tmp_path):
    """A copy that passes integrity_check but lacks a table of its revision (the audit
    trail) is refused: every later write would fail. The database is untouched."""
    app = department_app
    app.requests.create(request_values(), today=TODAY)
    src = backup_database(app.store, tmp_path / "kopi.sqlite3")
    con = sqlite3.connect(src)
    con.execute("DROP TABLE audit_log")
    con.commit()
    con.close()
    with pytest.raises(HjemmeproveError, match="audit_log"):
        restore_database(app.store, src)
    assert main(["--db", app.store.url, "restore", str(src)]) == 1
    again = App(app.store.url, user="test")
    try:
        assert _count(again) == 1
        again.requests.create(request_values(cpr="020260-4321"), today=TODAY)  # still writes
    finally:
        again.close()


KILLED_BACKUP = """
import sys, time, pathlib
sys.path.insert(0, {root!r})
from hjemmeprove import backup
from hjemmeprove.app import App

marker = pathlib.Path(sys.argv[3])
real = backup._finish

def finish(tmp, dest):  # the copy is written and checked; killed before it is renamed
    marker.write_text(str(tmp))
    time.sleep(120)

backup._finish = finish
backup.backup_database(App(sys.argv[1], user="test", upgrade=False).store, sys.argv[2])
"""


def test_a_killed_backup_leaves_nothing_that_looks_like_a_backup(department_app, tmp_path):
    """kill -9 of a backup after its copy is written, before it is renamed: the folder holds
    no file a user would take for a backup (the temporary one is hidden, and the next backup
    to the same name removes it); a finished copy is owner-only (0600)."""
    import os
    import signal
    import stat
    import subprocess
    import sys
    import time
    from pathlib import Path

    app = department_app
    app.requests.create(request_values(), today=TODAY)
    root = Path(__file__).resolve().parent.parent
    script = tmp_path / "killed_backup.py"
    script.write_text(KILLED_BACKUP.format(root=str(root)))
    out = tmp_path / "kopier"
    out.mkdir()
    marker = tmp_path / "written"
    proc = subprocess.Popen([sys.executable, str(script), app.store.url,
                             str(out / "kopi.backup"), str(marker)], cwd=root)
    limit = time.time() + 120
    while not marker.exists():
        assert proc.poll() is None and time.time() < limit, "backup ended early"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []
    dest = backup_database(app.store, out / "kopi.backup")
    assert sorted(p.name for p in out.iterdir()) == ["kopi.backup"]  # the stale one went
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600


@pytest.mark.postgres
def test_postgres_restore_keeps_the_current_database_and_checks_the_copy(pg_url, tmp_path):
    """PostgreSQL: restore keeps a pg_dump of the database it replaces (the README says so),
    and a dump without the audit trail is refused before anything is touched."""
    import subprocess

    from sqlalchemy.engine import make_url

    from hjemmeprove.services.reference import load_defaults
    from tests.factories import add_department

    app = App(pg_url, user="test")
    try:
        load_defaults(app.store)
        add_department(app)
        first = app.requests.create(request_values(), today=TODAY)
        dest = backup_database(app.store, tmp_path / "kopi.dump")
        later = app.requests.create(request_values(cpr="020260-4321"), today=TODAY)
        kept = restore_database(app.store, dest)
        assert kept is not None and kept.exists() and "before-restore" in kept.name
        listing = subprocess.run(["pg_restore", "--list", str(kept)], capture_output=True,
                                 text=True, check=True).stdout
        assert "TABLE DATA public requests" in listing
        again = App(pg_url, user="test")
        try:
            assert [r.id for r in again.requests.list()] == [first]
        finally:
            again.close()
        assert later != first
        url = make_url(pg_url)
        no_audit = tmp_path / "uden-revision.dump"
        subprocess.run(["pg_dump", "--format=custom", f"--file={no_audit}",
                        "--exclude-table=audit_log", f"--host={url.host}", f"--port={url.port}",
                        f"--username={url.username}", url.database], check=True)
        with pytest.raises(HjemmeproveError, match="audit_log"):
            restore_database(app.store, no_audit)
        again = App(pg_url, user="test")
        try:
            assert [r.id for r in again.requests.list()] == [first]
        finally:
            again.close()
    finally:
        app.close()
