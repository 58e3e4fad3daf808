"""Where files live: the shipped resources and the user's data folder."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "hjemmeprove"


def resources_dir() -> Path:
    """The top-level ``resources/`` folder, also inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


PRIVATE_DIR_MODE = 0o700  # the data folder: the owner only
PRIVATE_FILE_MODE = 0o600  # database, backups, logs, outputs: they name citizens


def data_dir() -> Path:
    """The user's data folder, created and kept 0700 (owner only) where modes exist."""
    path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    _chmod(path, PRIVATE_DIR_MODE)
    return path


def private_file(path: str | Path) -> Path:
    """Creates ``path`` empty if missing, and makes it owner-only (0600) either way: for files
    that another library opens (SQLite, a log handler), so they never exist world-readable."""
    p = Path(path)
    if os.name == "posix":
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                     PRIVATE_FILE_MODE)
        os.close(fd)
    else:
        p.touch(exist_ok=True)
    _chmod(p, PRIVATE_FILE_MODE)
    return p


def private_umask() -> None:
    """Everything the process creates from now on is owner-only (POSIX umask 077): the
    command line and the desktop program call it first."""
    if os.name == "posix":
        os.umask(0o077)


def _chmod(path: Path, mode: int) -> None:
    if os.name == "posix":
        with contextlib.suppress(OSError):  # not ours to change (a shared mount): leave it
            os.chmod(path, mode)


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'hjemmeprove.sqlite3'}"
