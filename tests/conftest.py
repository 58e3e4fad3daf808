"""Shared fixtures.

Every test gets a fresh database: a temporary SQLite file, or, when HJEMMEPROVE_TEST_PG holds
a PostgreSQL URL (as .ci/run sets), a fresh schema-less database created on that server.
Qt runs offscreen with one QApplication per session (pytest-qt's qapp), set up before any Qt
import (the Picard way).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HJEMMEPROVE_USER", "test")

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hjemmeprove.app import App

PG_ENV = "HJEMMEPROVE_TEST_PG"


def pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _new_pg_database() -> tuple[str, callable]:
    admin = make_url(pg_admin_url())
    name = f"hp_test_{uuid.uuid4().hex[:10]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)

    def drop():
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()

    return url, drop


@pytest.fixture
def db_url(tmp_path):
    """A URL to an empty database of the backend under test."""
    if pg_admin_url():
        url, drop = _new_pg_database()
        yield url
        drop()
    else:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def pg_url():
    """An empty PostgreSQL database; skipped where no server is configured."""
    if not pg_admin_url():
        pytest.skip(f"{PG_ENV} not set: no PostgreSQL server for this run")
    url, drop = _new_pg_database()
    yield url
    drop()


@pytest.fixture
def app(db_url):
    """A migrated, empty core with the shipped default data."""
    from hjemmeprove.services.reference import load_defaults

    a = App(db_url, user="test")
    load_defaults(a.store)
    yield a
    a.close()


@pytest.fixture
def department_app(app):
    """The core with one department, two bioanalysts and agreements with Svendborg (479),
    Ærø (492) and Faaborg-Midtfyn (430) from 2020-01-01."""
    from tests.factories import add_department

    add_department(app)
    return app


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory):
    """A demo database built once per session (SQLite), copied per test that wants it."""
    from hjemmeprove.demo import fill_demo

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    a = App(f"sqlite:///{path}", user="demo")
    fill_demo(a, seed=1, today=DEMO_TODAY)
    a.close()
    return path


DEMO_TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def demo_app(demo_db_template, tmp_path):
    import shutil

    path = tmp_path / "demo.sqlite3"
    shutil.copy(demo_db_template, path)
    a = App(f"sqlite:///{path}", user="test")
    yield a
    a.close()
