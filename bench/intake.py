"""Benchmark: ``intake run`` on 1,000 CareCommunication messages (not a test).

Builds a fresh database (SQLite in a temporary folder unless --db) with one department and
agreements with the 22 municipalities of Region Syddanmark, one registered sender (SOR)
per municipality, and N generated messages in the inbox: half FHIR JSON, half FHIR XML, every
tenth a second message in an earlier thread. Then times

  run   — IntakeService.run: parse, validate, store whole (raw + fields, one transaction per
          file), acknowledge to the outbox (atomic write), move to the archive;
  peer  — the cheapest loop that could be called "reading the inbox": read each file, parse
          it (json / lxml), write a copy to a folder and delete the original; nothing stored,
          nothing checked, no acknowledgement.

Prints both times, the ratio run/peer and the cost per message.

    .venv/bin/python bench/intake.py [--messages 1000] [--db URL] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lxml import etree  # noqa: E402
from sqlalchemy import select  # noqa: E402

from hjemmeprove.app import App  # noqa: E402
from hjemmeprove.db.models import Agreement, Department, Municipality  # noqa: E402
from hjemmeprove.intake import fhir  # noqa: E402
from hjemmeprove.intake.ack import build_new_message  # noqa: E402
from hjemmeprove.services.reference import load_defaults  # noqa: E402

DEPT_SOR, DEPT_EAN = "987651000016009", "5798000000013"


def build(app, inbox: Path, n: int) -> None:
    load_defaults(app.store)
    with app.store.session() as s:
        dept = Department(name="Klinisk Biokemisk Afdeling", hospital="Benchmark-sygehus",
                          lab_address="Baagøes Allé 15", lab_postcode="5700",
                          lab_city="Svendborg", lab_lat=55.06, lab_lon=10.59)
        s.add(dept)
        s.flush()
        codes = []
        for m in s.scalars(select(Municipality).order_by(Municipality.code)):
            s.add(Agreement(municipality_id=m.id, department_id=dept.id,
                            start=dt.date(2020, 1, 1)))
            codes.append(m.code)
    for code in codes:
        app.intake.add_sender(code, sor=f"4{code:03d}51000016001", name=f"Hjemmeplejen {code}")
    start = dt.datetime(2026, 11, 2, 7, 0, tzinfo=dt.timezone.utc)
    threads: list[str] = []
    for i in range(n):
        code = codes[i % len(codes)]
        thread = threads[i // 10] if i % 10 == 9 and threads else None
        bundle = build_new_message(
            f"Blodprøvetagning i hjemmet, tak. Borgeren skal være fastende. Besked {i}.",
            f"{(i % 28) + 1:02d}0150-{1000 + i % 9000:04d}", f"Borger {i}",
            f"4{code:03d}51000016001", "5790001234567", DEPT_SOR, DEPT_EAN,
            start + dt.timedelta(minutes=i), thread=thread,
            address=("Vestergade 3", "5700", "Svendborg"))
        if thread is None:
            comm = next(e["resource"] for e in bundle["entry"]
                        if e["resource"]["resourceType"] == "Communication")
            threads.append(comm["identifier"][0]["value"])
        fmt = "json" if i % 2 == 0 else "xml"
        (inbox / f"besked-{i:05d}.{fmt}").write_bytes(fhir.dumps(bundle, fmt))


def peer(inbox: Path, out: Path) -> None:
    for path in sorted(inbox.iterdir()):
        data = path.read_bytes()
        if path.suffix == ".json":
            json.loads(data)
        else:
            etree.fromstring(data)
        (out / path.name).write_bytes(data)
        path.unlink()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--db", help="SQLAlchemy URL of an EMPTY database (default: temporary "
                                "SQLite)")
    p.add_argument("--keep", help="keep the folders and database here")
    a = p.parse_args()
    base = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="hp-intake-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    folders = {k: base / k for k in ("ind", "ud", "arkiv", "peer-ind", "peer-ud")}
    for f in folders.values():
        f.mkdir(exist_ok=True)
    app = App(a.db or f"sqlite:///{base / 'bench.sqlite3'}", user="bench")
    t0 = time.perf_counter()
    build(app, folders["ind"], a.messages)
    print(f"built {a.messages} messages in {time.perf_counter() - t0:.1f} s "
          f"({sum(p.stat().st_size for p in folders['ind'].iterdir()) / 1e6:.1f} MB)")
    for path in folders["ind"].iterdir():
        shutil.copy(path, folders["peer-ind"] / path.name)

    t0 = time.perf_counter()
    summary = app.intake.run(folders["ind"], folders["ud"], folders["arkiv"], csv=False)
    run_s = time.perf_counter() - t0
    assert summary.ok == a.messages, summary.as_json() | {"files": "…"}
    t0 = time.perf_counter()
    peer(folders["peer-ind"], folders["peer-ud"])
    peer_s = time.perf_counter() - t0

    threads = len(app.intake.threads())
    print(f"run : {run_s:7.2f} s  ({1000 * run_s / a.messages:.1f} ms/message; "
          f"{summary.ok} stored in {threads} threads, {summary.ok} acknowledgements)")
    print(f"peer: {peer_s:7.2f} s  (read, parse, copy; nothing stored or acknowledged)")
    print(f"ratio run/peer: {run_s / peer_s:.1f}")
    app.close()
    if not a.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
