#!/usr/bin/env bash
# Until the first release, the initial migration is regenerated from the models.
# After release every schema change gets its own migration (alembic revision --autogenerate).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f hjemmeprove/db/migrations/versions/0001_initial.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from hjemmeprove.db.migrate import alembic_config
url = f"sqlite:///{sys.argv[1]}/empty.sqlite3"
cfg = alembic_config(url)
command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
PY
mv hjemmeprove/db/migrations/versions/0001_initial_schema.py hjemmeprove/db/migrations/versions/0001_initial.py
rm -rf "$tmp"
echo "regenerated hjemmeprove/db/migrations/versions/0001_initial.py"
