"""The core stays headless: importing it must not pull in Qt."""

import subprocess
import sys


def test_core_imports_no_qt():
    code = (
        "import sys, pkgutil, importlib, hjemmeprove\n"
        "for m in pkgutil.walk_packages(hjemmeprove.__path__, 'hjemmeprove.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.startswith(('PySide6', 'shiboken6', 'ui')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported Qt modules: {out.stdout.strip()}"


def test_migration_matches_models(app):
    """alembic check: the models and the migrations describe the same schema."""
    from alembic import command
    from hjemmeprove.db.migrate import alembic_config

    command.check(alembic_config(app.store.url))
