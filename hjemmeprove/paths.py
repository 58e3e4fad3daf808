"""Where files live: the shipped resources and the user's data folder."""

from __future__ import annotations

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


def data_dir() -> Path:
    path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'hjemmeprove.sqlite3'}"
