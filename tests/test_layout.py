"""The house's layout: the core stays headless (importing it pulls in no Qt), its imports
run one way without circles, and the models agree with the migrations."""

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest


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


# --- the arrows between the core's modules ------------------------------------------------
#
# Read from the source (ast), not by importing: every ``import``/``from ... import`` of a
# hjemmeprove or ui module counts, at module level *and* inside functions. A lazy import is
# still a dependency (it only moves the failure to run time), so it may not close a circle
# either; lazy imports stay fine for load time (Qt, OR-Tools, reportlab). Not counted: the
# CLI's command discovery by name (``importlib.import_module`` in ``cli/__init__.py``), which
# names no module in the source.

ROOT = Path(__file__).resolve().parent.parent
CORE = "hjemmeprove"
FRONT_ENDS = ("hjemmeprove.cli", "hjemmeprove.__main__", "ui")

# package -> packages it must not import (arrows run domain <- db <- services/billing/planning
# <- documents' callers <- cli, ui)
UPWARD = {
    "hjemmeprove.domain": ("hjemmeprove.db", "hjemmeprove.services", "hjemmeprove.billing",
                           "hjemmeprove.planning", "hjemmeprove.documents",
                           "hjemmeprove.app", "hjemmeprove.settings", "hjemmeprove.security",
                           "hjemmeprove.backup"),
    "hjemmeprove.db": ("hjemmeprove.services", "hjemmeprove.billing", "hjemmeprove.planning",
                       "hjemmeprove.documents", "hjemmeprove.app"),
}
DOCUMENTS_UPWARD = {
    "hjemmeprove.documents": ("hjemmeprove.billing", "hjemmeprove.services",
                              "hjemmeprove.planning", "hjemmeprove.app"),
}


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known) -> list[tuple[str, bool]]:
    """(imported module, lazy) for each hjemmeprove/ui import in the file."""
    result = []

    def target(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    def visit(node, lazy: bool):
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                               ast.Lambda))
            if isinstance(child, ast.Import):
                result.extend((t, lazy) for a in child.names if (t := target(a.name)))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                    base = ".".join(pkg[:len(pkg) - child.level + 1] + ([base] if base else []))
                for a in child.names:  # ``from pkg import module`` names the module
                    t = target(f"{base}.{a.name}") if f"{base}.{a.name}" in known else target(base)
                    if t:
                        result.append((t, lazy))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return result


def _graph() -> dict[str, list[tuple[str, bool]]]:
    known = _modules(CORE) | _modules("ui")
    return {name: [(t, lazy) for t, lazy in _imports(name, path, known) if t != name]
            for name, path in known.items()}


def _under(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_no_import_circles():
    graph = _graph()
    sorter = graphlib.TopologicalSorter({m: {t for t, _ in deps} for m, deps in graph.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as e:
        pytest.fail("import circle: " + " -> ".join(e.args[1]))


def test_the_core_imports_no_front_end():
    """The core (hjemmeprove/ without cli/) imports neither the UI nor the CLI; the CLI
    reaches the UI only inside the ``gui`` command (so the CLI runs without Qt)."""
    graph = _graph()
    bad = [f"{m} -> {t}" for m, deps in graph.items() if _under(m, (CORE,))
           and not _under(m, FRONT_ENDS) for t, _ in deps if _under(t, FRONT_ENDS)]
    bad += [f"{m} -> {t} (at module level)" for m, deps in graph.items()
            if _under(m, ("hjemmeprove.cli",)) for t, lazy in deps
            if _under(t, ("ui",)) and not lazy]
    assert not bad, "\n".join(bad)


def _upward(rules) -> list[str]:
    graph = _graph()
    return [f"{m} -> {t}" for low, high in rules.items() for m, deps in graph.items()
            if _under(m, (low,)) for t, _ in deps if _under(t, high)]


def test_no_upward_arrows():
    bad = _upward(UPWARD)
    assert not bad, "\n".join(bad)


def test_documents_take_their_data_from_documents():
    bad = _upward(DOCUMENTS_UPWARD)
    assert not bad, "\n".join(bad)
