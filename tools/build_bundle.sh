#!/usr/bin/env bash
# Builds the one-folder desktop bundle (build.spec) and runs its self-test offscreen.
#   tools/build_bundle.sh            -> dist/hjemmeprove/, exit 0 when the self-test passes
# Uses the project's venv (.venv) when there is one. The self-test opens a fresh database,
# computes docs/domain.md's worked example fee, renders a PDF, solves a tiny routing problem and
# loads Qt with the map, charts and PDF modules; it exits 0 or 1 without showing a window.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
"$PY" -m PyInstaller --version >/dev/null 2>&1 || {
    echo "PyInstaller mangler: $PY -m pip install 'pyinstaller>=6.5'" >&2; exit 1; }
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN build.spec
EXE=dist/hjemmeprove/hjemmeprove
[ -x "$EXE" ] || EXE=dist/hjemmeprove/hjemmeprove.exe
du -sh dist/hjemmeprove | sed 's/^/bundle: /'
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
QT_QPA_PLATFORM=offscreen HJEMMEPROVE_USER=selftest \
    "$EXE" --db "sqlite:///$TMP/selftest.sqlite3" gui --selftest
