"""Where the program's schema migrations are, and Alembic's configuration for them (no
alembic.ini to ship or find). The bottom of the database layer: ``migrate`` runs the scripts,
``backup`` asks which schema revisions this program knows before it restores a copy.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision(store) -> str | None:
    """The newest schema revision this program knows."""
    return ScriptDirectory.from_config(alembic_config(store.url)).get_current_head()
