#!/usr/bin/env bash
# Sets up (tools/setup.sh) and starts the desktop program on its embedded SQLite database in
# the user's data folder; an empty database is filled with demo data on first start
# (gui --demo-if-empty; the window's title then says "DEMODATA").
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
exec .venv/bin/hjemmeprove gui --demo-if-empty "$@"
