"""Citizen letters for Digital Post: one PDF per citizen (all their visits in the period)
and an index CSV that a hospital's Digital Post sending system can take.

The index names each file with the citizen's full CPR number: the sending system needs it to
address the letter (the reader needs it, so it is not masked), and the export requires the
right to see full CPR numbers. File names carry no personal data. The files are written
whole or not at all (``fileio.write_all_atomic``); only then are the letters recorded
(``letter_records``), so a visit counts as "lettered" for the reminder policy only when its
letter exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from hjemmeprove.contact.service import csv_bytes
from hjemmeprove.db.models import Citizen, LetterRecord, Request
from hjemmeprove.errors import ValidationError
from hjemmeprove.fileio import write_all_atomic
from hjemmeprove.security import require

INDEX_NAME = "indeks.csv"
TITLE = "Blodprøvetagning i eget hjem"
INDEX_HEADER = ["filnavn", "cpr", "navn", "adresse", "postnr", "by", "besøgsdatoer",
                "forsendelse", "titel"]


@dataclass(frozen=True)
class IndexRow:
    filename: str
    cpr: str
    name: str
    address: str
    postcode: str
    city: str
    dates: tuple[dt.date, ...]
    paper: bool  # exempt from Digital Post: the sending system prints it (fjernprint)

    def cells(self) -> list:
        return [self.filename, self.cpr, self.name, self.address, self.postcode, self.city,
                " ".join(d.isoformat() for d in self.dates),
                "papir" if self.paper else "digital", TITLE]


def export(store, first: dt.date, last: dt.date, out_dir, written: dt.date | None = None
           ) -> list[IndexRow]:
    from hjemmeprove.documents import citizen_letter
    from hjemmeprove.services.planning import PlanningService

    require(store, "cpr.view")
    require(store, "planning.edit")
    letters = PlanningService(store).letters(first, last, written=written)
    if not letters:
        raise ValidationError("ingen planlagte besøg i perioden", "fra")
    with store.session() as s:
        citizen_of = {r.id: r.citizen_id for r in s.scalars(
            select(Request).where(Request.id.in_({L.request_id for L in letters})))}
        citizens = {c.id: c for c in s.scalars(
            select(Citizen).where(Citizen.id.in_(set(citizen_of.values()))))}
    groups: dict[int, list] = {}
    for L in letters:
        groups.setdefault(citizen_of[L.request_id], []).append(L)
    out = Path(out_dir)
    files: dict[Path, bytes] = {}
    rows = []
    for cid, group in groups.items():
        group.sort(key=lambda L: (L.date, L.request_id))
        c = citizens[cid]
        name = f"brev-{group[0].date}-b{cid}.pdf"
        files[out / name] = citizen_letter.render_many(group)
        rows.append(IndexRow(name, c.cpr, c.name, c.address, c.postcode, c.city,
                             tuple(L.date for L in group), c.digital_post_exempt))
    rows.sort(key=lambda r: (r.dates[0], r.filename))
    files[out / INDEX_NAME] = csv_bytes(INDEX_HEADER, [r.cells() for r in rows])
    write_all_atomic(files)
    with store.session() as s:  # recorded only now that every file exists in full
        for L in letters:
            rec = s.scalar(select(LetterRecord).where(LetterRecord.request_id == L.request_id,
                                                      LetterRecord.visit_date == L.date))
            if rec is None:
                rec = LetterRecord(request_id=L.request_id, visit_date=L.date)
                s.add(rec)
            rec.paper = L.paper
            rec.filename = next(r.filename for r in rows if L.date in r.dates
                                and r.cpr == citizens[citizen_of[L.request_id]].cpr)
            rec.made_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return rows
