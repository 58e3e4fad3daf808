"""Migration 0011: on PostgreSQL an index of the citizens' CPR and name by id (a search sorted
on them reads each match's key from the index alone); nothing on SQLite. Up, down and up
again on a database with requests, the search's pages sorted by CPR and name unchanged."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect

from hjemmeprove.app import App

INDEX = "ix_citizens_id_sort_keys"


def test_migration_0011_goes_up_down_and_up(db_url):
    from tests.test_migration_0008 import insert_agreement, insert_citizen_request
    from tests.test_migration_0008 import migrate as migrate_to

    engine = create_engine(db_url)
    sqlite = engine.dialect.name == "sqlite"

    def migrate(fn, revision):
        migrate_to(engine, db_url, fn, revision)

    def indexes() -> dict:
        with engine.connect() as c:
            return {i["name"]: i for i in inspect(c).get_indexes("citizens")}

    def pages() -> dict:
        app = App(db_url, user="test")  # at head
        try:
            return {(key, desc): [r.id for r in app.requests.page(
                        search="vej", sort=key, descending=desc).rows]
                    for key in ("cpr", "name") for desc in (False, True)}
        finally:
            app.close()

    expected = {("cpr", False): [1, 2, 3], ("cpr", True): [3, 2, 1],
                ("name", False): [2, 3, 1], ("name", True): [1, 3, 2]}
    try:
        migrate(command.upgrade, "0010")
        with engine.begin() as c:
            insert_agreement(c)
            for i, name in enumerate(["Carl Lund", "Anna Berg", "Bo Winther"], start=1):
                insert_citizen_request(c, i, name, f"Kirkevej {i}")
        migrate(command.upgrade, "0011")
        if sqlite:
            assert INDEX not in indexes()
        else:
            index = indexes()[INDEX]
            assert index["column_names"] == ["id"]
            assert index["dialect_options"]["postgresql_include"] == ["cpr", "name"]
        assert pages() == expected
        migrate(command.downgrade, "0010")
        assert INDEX not in indexes()
        migrate(command.upgrade, "0011")
        assert (INDEX in indexes()) is not sqlite
        assert pages() == expected
    finally:
        engine.dispose()
