"""Issue 11: privacy by default. The data folder is 0700; the database, its write-ahead log,
backups, logs and outputs are 0600; an error never prints another citizen's data."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest
from sqlalchemy import select

from hjemmeprove.db.models import Citizen
from hjemmeprove.errors import ConflictError
from tests.factories import request_values

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def open_umask():
    """The tests run under a permissive umask, as a user's shell might."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_data_folder_is_owner_only(tmp_path, monkeypatch):
    import platformdirs

    from hjemmeprove import paths

    where = tmp_path / "data" / "hjemmeprove"
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(where))
    assert paths.data_dir() == where
    assert _mode(where) == 0o700
    where.chmod(0o755)  # made readable by someone: tightened on the next start
    paths.data_dir()
    assert _mode(where) == 0o700


def test_database_wal_and_backup_are_owner_only(tmp_path):
    from hjemmeprove.app import App
    from hjemmeprove.backup import backup_database

    db = tmp_path / "new" / "h.sqlite3"
    app = App(f"sqlite:///{db}", user="test")
    try:
        assert _mode(db) == 0o600
        for extra in (f"{db}-wal", f"{db}-shm"):
            if os.path.exists(extra):
                assert _mode(extra) == 0o600, extra
        copy = backup_database(app.store, tmp_path / "kopi.sqlite3")
        assert _mode(copy) == 0o600
    finally:
        app.close()


def test_log_file_is_owner_only_and_masks_cpr(tmp_path):
    import logging

    from hjemmeprove.logging_setup import file_handler

    path = tmp_path / "hjemmeprove.log"
    handler = file_handler(path)
    log = logging.getLogger("hjemmeprove.test_privacy")
    log.addHandler(handler)
    try:
        log.warning("henvisning for 010150-1234")
    finally:
        log.removeHandler(handler)
        handler.close()
    assert _mode(path) == 0o600
    assert "010150-XXXX" in path.read_text() and "1234" not in path.read_text()


def test_cli_output_is_owner_only(department_app, tmp_path):
    from hjemmeprove.cli import main

    pdf = tmp_path / "stats.pdf"
    assert main(["--db", department_app.store.url, "stats", "--year", "2024", "--pdf",
                 str(pdf)]) == 0
    assert _mode(pdf) == 0o600


def test_concurrent_save_of_the_same_citizen_shows_none_of_its_data(department_app,
                                                                     monkeypatch):
    """Two imports of the same new citizen: the one that loses says so, without printing the
    other's row (the database's own message carries its name, address and phone)."""
    from hjemmeprove.services.importing import import_requests
    from hjemmeprove.services.requests import RequestService

    app = department_app
    original = RequestService._citizen
    other = request_values(cpr="010150-1234", name="Grethe Madsen", address="Møllevej 7",
                           phone="61 22 33 44", received="2024-03-04")

    def racing(self, s, data, *a, **kw):  # the other import commits between look-up and insert
        citizen = original(self, s, data, *a, **kw)
        monkeypatch.setattr(RequestService, "_citizen", original)
        RequestService(app.store).create(other, today=dt.date(2024, 3, 5))
        return citizen

    monkeypatch.setattr(RequestService, "_citizen", racing)
    text = ("cpr;navn;adresse;postnr;by;kommunekode;modtaget;telefon\n"
            "010150-1234;Grethe Madsen;Møllevej 7;5700;Svendborg;479;2024-03-04;61 22 33 44\n")
    with pytest.raises(ConflictError) as e:
        import_requests(app.requests, text.encode(), today=dt.date(2024, 3, 5))
    message = str(e.value)
    for secret in ("Grethe", "Møllevej", "61 22 33 44", "010150"):
        assert secret not in message
    with app.store.session() as s:
        assert len(s.scalars(select(Citizen)).all()) == 1


def test_database_errors_never_carry_row_values(department_app):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError) as e:
        with department_app.store.session() as s:
            s.add(Citizen(cpr="010150-1234", name="Grethe Madsen", address="Møllevej 7",
                          postcode="5700", city="Svendborg", phone="61 22 33 44"))
            s.add(Citizen(cpr="010150-1234", name="Ole Test", address="Testvej 1",
                          postcode="5700", city="Svendborg", phone="99 88 77 66"))
    assert "Møllevej" not in str(e.value) and "Ole Test" not in str(e.value)
