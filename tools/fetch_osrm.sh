#!/usr/bin/env bash
# Fetches OSRM's executables (osrm-extract, osrm-contract, osrm-routed and the car profile) from
# the PyPI wheel osrm-bindings into DEST (default: ~/.cache/hjemmeprove/osrm). Tagged for Python >= 3.12, so
# it is downloaded for 3.12 and unzipped, not installed (docs/libraries.md, Distances). Prints DEST/bin.
# Exit 0 and the directory on success; exit 1 with a reason on stderr otherwise.
set -euo pipefail
DEST="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/hjemmeprove/osrm}"
PY="${PYTHON:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}"
if [ -x "$DEST/bin/osrm-routed" ]; then echo "$DEST/bin"; exit 0; fi
mkdir -p "$DEST/wheel"
if ! "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
      --dest "$DEST/wheel" osrm-bindings >&2; then
  echo "fetch_osrm: could not download the osrm-bindings wheel" >&2; exit 1
fi
WHEEL="$(ls "$DEST"/wheel/osrm_bindings-*.whl | head -1)"
rm -rf "$DEST/unpacked"; mkdir -p "$DEST/unpacked"
"$PY" -m zipfile -e "$WHEEL" "$DEST/unpacked"
mkdir -p "$DEST/bin"
for exe in osrm-extract osrm-contract osrm-routed; do
  found="$(find "$DEST/unpacked" -type f -name "$exe" | head -1)"
  if [ -z "$found" ]; then echo "fetch_osrm: $exe not in $WHEEL" >&2; exit 1; fi
  chmod +x "$found"; ln -sf "$found" "$DEST/bin/$exe"
done
prof="$(find "$DEST/unpacked" -type f -name car.lua | head -1)"
if [ -n "$prof" ]; then ln -sf "$(dirname "$prof")" "$DEST/profiles"; fi
echo "$DEST/bin"
