"""Where the program's schema migrations are, and Alembic's configuration for them (no
alembic.ini to ship or find). The bottom of the database layer: ``migrate`` runs the scripts,
``backup`` asks which schema revisions this program knows before it restores a copy.

Alembic is imported only when a script is to be run or walked: the check every command makes
at start ("is the schema current?") reads the revision ids from the scripts' text instead
(``script_heads``), so a command on a current database never pays for loading Alembic.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]\s*$", re.M)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.M)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision(store) -> str | None:
    """The newest schema revision this program knows (Alembic's own reading of the scripts)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(store.url)).get_current_head()


def script_heads() -> frozenset[str] | None:
    """The head revision ids of the migration scripts, read from their text without Alembic:
    every ``revision`` that no script names as its ``down_revision``. None when a script does
    not read plainly (no literal ``revision = "…"`` line): the caller then asks Alembic.
    Not cached: a few small files, read once per start."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        if path.name.startswith("_"):
            continue
        text = path.read_text(encoding="utf-8")
        rev = _REVISION.findall(text)
        down = _DOWN.findall(text)
        if len(rev) != 1 or len(down) != 1:
            return None
        revisions.add(rev[0])
        downs.update(_QUOTED.findall(down[0]))
    heads = revisions - downs
    return frozenset(heads) if heads else None
