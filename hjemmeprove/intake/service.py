"""The inbox: read bundles from a folder, store them in threads, acknowledge, and turn a
message into a booking request or a cancellation when the coordinator says so.

Each received file is one transaction: the message (raw bytes and parsed fields), its new
segments and the intake log entry are stored together or not at all; the acknowledgement is
written to the outbox after the commit and the file is moved to the archive last, so a crash
in between leaves the file in the inbox, and reading it again is a duplicate that is
acknowledged again (MedCom reliable messaging), never a second message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from hjemmeprove.db.models import (
    Agreement,
    Citizen,
    Department,
    IntakeLogEntry,
    IntakeMessage,
    IntakeSegment,
    IntakeSender,
    IntakeThread,
    Municipality,
    Request,
    Visit,
)
from hjemmeprove.domain import labels
from hjemmeprove.domain.cpr import mask_cpr
from hjemmeprove.errors import NotFound, ValidationError
from hjemmeprove.fileio import OutputError, ensure_private_dir, write_all_atomic, write_atomic
from hjemmeprove.intake import fhir
from hjemmeprove.intake.ack import build_acknowledgement, build_reply
from hjemmeprove.intake.hints import (
    Hint,
    asks_to_cancel,
    cancellation_request_number,
    find_hints,
)
from hjemmeprove.intake.message import (
    CareMessage,
    Problem,
    local_time,
    read_message,
)
from hjemmeprove.security import require
from hjemmeprove.settings import Settings

IGNORED_SUFFIXES = (".tmp", ".part", "~")
BATCH = 100  # files per transaction when the inbox is read


@dataclass
class Receipt:
    """What became of one received file. The ids are known once the transaction that
    stored the message is flushed (``resolve``)."""

    filename: str
    outcome: str  # ok | duplicate | fatal-error | acknowledgement
    ack_code: str  # ok | fatal-error | "" (no acknowledgement: one of an acknowledgement)
    ack: dict | None
    ack_format: str
    ack_filename: str
    problems: tuple[Problem, ...] = ()
    thread_id: int | None = None
    message_id: int | None = None
    header_id: str = ""
    row: object = field(default=None, repr=False, compare=False)  # the stored message

    @property
    def shown(self) -> bool:
        return self.outcome == "ok"

    def resolve(self) -> "Receipt":
        if self.row is not None:
            self.message_id, self.thread_id = self.row.id, self.row.thread_id
            self.row = None
        return self


@dataclass
class RunSummary:
    read: int = 0
    ok: int = 0
    duplicates: int = 0
    rejected: int = 0
    acknowledgements: int = 0
    receipts: list[Receipt] = field(default_factory=list)
    csv_imported: int = 0
    csv_rejected: int = 0

    def as_json(self) -> dict:
        return {"read": self.read, "ok": self.ok, "duplicates": self.duplicates,
                "rejected": self.rejected, "acknowledgements": self.acknowledgements,
                "csv_imported": self.csv_imported, "csv_rejected": self.csv_rejected,
                "files": [{"file": r.filename, "outcome": r.outcome, "ack": r.ack_code,
                           "ack_file": r.ack_filename, "thread": r.thread_id,
                           "problems": [str(p) for p in r.problems]} for r in self.receipts]}


@dataclass(frozen=True)
class ThreadRow:
    id: int
    identifier: str
    municipality: str
    patient: str  # CPR masked, or the replacement number
    patient_name: str
    category: str  # Danish label
    topic: str
    last_at: dt.datetime | None  # Danish local time
    unread: bool
    messages: int
    last_activity: str  # Danish label
    request_id: int | None
    handled: str


@dataclass(frozen=True)
class SegmentInfo:
    at: dt.datetime  # Danish local time
    kind: str
    text: str
    author: str
    author_role: str
    author_phone: str
    organisation: str
    title: str
    content_type: str
    url: str
    message_id: int
    direction: str


@dataclass(frozen=True)
class MessageInfo:
    id: int
    direction: str
    activity: str  # Danish label
    sent_at: dt.datetime  # Danish local time
    sender: str
    receiver: str
    patient: str  # masked
    patient_name: str
    other_ids: str
    category: str
    priority: str
    topic: str
    episode_of_care: str
    ack_code: str
    handled: str
    request_id: int | None


@dataclass(frozen=True)
class ThreadDetail:
    row: ThreadRow
    messages: tuple[MessageInfo, ...]
    segments: tuple[SegmentInfo, ...]


@dataclass(frozen=True)
class CancelProposal:
    request_id: int
    at: dt.datetime  # the message's time, Danish local
    by: str
    channel: str = "electronic"


@dataclass(frozen=True)
class Proposal:
    """Form values for a request from a message, and what the text suggests (not applied)."""

    message_id: int
    values: dict
    hints: tuple[Hint, ...]
    cancellation: CancelProposal | None
    existing_request_id: int | None


@dataclass(frozen=True)
class LogRow:
    at: dt.datetime
    filename: str
    outcome: str
    problem: str
    ack_file: str


class IntakeService:
    def __init__(self, store):
        self.store = store
        self.settings = Settings(store)

    # --- receiving ----------------------------------------------------------------------

    def receive(self, data: bytes, filename: str = "") -> Receipt:
        """Reads, checks, stores and acknowledges one bundle (the acknowledgement is returned,
        not written). Never raises for bad input: a bad bundle is a fatal-error receipt."""
        for attempt in range(2):
            try:
                with self.store.session() as s:
                    receipt = self._receive_in(s, data, filename)
                return receipt.resolve()
            except IntegrityError:  # another reader stored the same message meanwhile
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _receive_in(self, s, data: bytes, filename: str) -> Receipt:
        return self._handle(s, _parse(data), data, filename)

    def _handle(self, s, msg: CareMessage | str, data: bytes, filename: str) -> Receipt:
        """One parsed file (or the reason it could not be parsed) in the caller's session."""
        if isinstance(msg, str):
            return self._refuse_unreadable(s, data, filename, msg)
        if msg.is_acknowledgement:  # never acknowledge an acknowledgement
            return self._log_only(s, msg, filename, "acknowledgement",
                                  f"kvittering {msg.response_code} for {msg.response_to}")
        with s.no_autoflush:  # flushed once, at the end of the unit of work
            return self._receive(s, msg, data, filename)

    def _receive(self, s, msg: CareMessage, data: bytes, filename: str) -> Receipt:
        pending = s.info.setdefault("intake_pending", {})  # header id -> message, unflushed
        known = s.info.setdefault("intake_known", {})  # header id -> stored row or None
        if msg.header_id:
            if msg.header_id in pending:
                earlier = pending[msg.header_id]
            elif msg.header_id in known:
                earlier = known[msg.header_id]
            else:
                earlier = s.execute(_HEADER_QUERY.where(
                    IntakeMessage.header_id == msg.header_id)).first()
            if earlier is not None and earlier.ack_code == "ok":
                # a positive duplicate: the same acknowledgement again, nothing shown
                ack = json.loads(earlier.ack_json)
                name = _ack_name(ack, msg.format)
                stored = isinstance(earlier, IntakeMessage)  # read earlier in this run
                log = IntakeLogEntry(filename=filename[:255], bundle_id=msg.bundle_id[:100],
                                     header_id=msg.header_id, outcome="duplicate",
                                     problem="dublet (samme MessageHeader.id)", ack_file=name)
                if stored:
                    log.message = earlier
                else:
                    log.message_id = earlier.id
                s.add(log)
                return Receipt(filename, "duplicate", "ok", ack, msg.format, name, (),
                               None if stored else earlier.thread_id,
                               None if stored else earlier.id, msg.header_id,
                               row=earlier if stored else None)
        problems = list(msg.problems)
        municipality_id = None
        if not problems:
            municipality_id, problem = _sender_municipality(s, msg)
            if problem is not None:
                problems.append(problem)
        if problems:
            return self._refuse(s, msg, filename, problems)
        _names_from_registry(s, msg)
        ack = build_acknowledgement(msg, "ok")
        threads = s.info.setdefault("intake_threads", {})  # identifier -> thread, this run
        thread = threads.get(msg.thread)
        if thread is None and msg.thread not in s.info.get("intake_no_thread", ()):
            thread = s.scalar(select(IntakeThread).where(IntakeThread.identifier == msg.thread))
        new_thread = thread is None
        if new_thread:
            thread = IntakeThread(identifier=msg.thread)
            s.add(thread)
        threads[msg.thread] = thread
        newest = thread.last_at is None or msg.timestamp >= thread.last_at
        if newest:
            thread.municipality_id = municipality_id
            thread.patient_id = msg.patient.key
            thread.patient_name = msg.patient.name
            thread.category = msg.category
            thread.topic = msg.topic
            thread.last_at = msg.timestamp
        thread.unread = True
        p = msg.patient
        row = IntakeMessage(
            thread=thread, direction="in", bundle_id=msg.bundle_id, header_id=msg.header_id,
            activity=msg.activity, previous_header_id=msg.previous_header_id,
            sent_at=msg.timestamp, filename=filename[:255], format=msg.format, raw=data,
            sha256=hashlib.sha256(data).hexdigest(), sender_sor=msg.sender.sor,
            sender_ean=msg.sender.ean, sender_name=msg.sender.label()[:200],
            receiver_sor=msg.receiver.sor, receiver_ean=msg.receiver.ean,
            receiver_name=msg.receiver.label()[:200], municipality_id=municipality_id,
            cpr=p.cpr, other_ids=", ".join(p.other_ids)[:300], patient_name=p.name[:200],
            patient_address=p.address[:200], patient_postcode=p.postcode[:10],
            patient_city=p.city[:100], patient_phone=p.phone[:40],
            category=msg.category, priority=msg.priority, topic=msg.topic[:200],
            episode_of_care=msg.episode_of_care[:100], ack_code="ok",
            ack_json=json.dumps(ack, ensure_ascii=False))
        s.add(row)
        pending[msg.header_id] = row
        self._add_segments(s, thread, row, msg, new_thread)
        name = _ack_name(ack, msg.format)
        s.add(IntakeLogEntry(filename=filename[:255], bundle_id=msg.bundle_id,
                             header_id=msg.header_id, outcome="ok", ack_file=name,
                             message=row))
        return Receipt(filename, "ok", "ok", ack, msg.format, name, (), None, None,
                       msg.header_id, row=row)

    def _add_segments(self, s, thread: IntakeThread, row: IntakeMessage,
                      msg: CareMessage, new_thread: bool = False) -> None:
        """The message's segments the thread does not have yet (a reply quotes them)."""
        seen = s.info.setdefault("intake_segments", {})  # thread identifier -> identifiers
        known = seen.get(thread.identifier)
        if known is None:
            known = set() if new_thread or thread.id is None else set(s.scalars(
                select(IntakeSegment.identifier).where(IntakeSegment.thread_id == thread.id)))
            seen[thread.identifier] = known
        for seg in msg.segments:
            if seg.identifier in known:
                continue
            known.add(seg.identifier)
            s.add(IntakeSegment(
                thread=thread, message=row, identifier=seg.identifier[:100], at=seg.at,
                kind=seg.kind, text=seg.text, author=seg.author[:200],
                author_role=seg.author_role[:200], author_phone=seg.author_phone[:40],
                organisation=seg.organisation[:200], title=seg.title[:300],
                content_type=seg.content_type[:100], url=seg.url[:500],
                initiator=bool(msg.initiator_sor and seg.assigner_sor == msg.initiator_sor)))

    def _refuse(self, s, msg: CareMessage, filename: str, problems: list[Problem]) -> Receipt:
        ack = build_acknowledgement(msg, "fatal-error", problems) if msg.header_id else None
        name = _ack_name(ack, msg.format) if ack else ""
        text = "; ".join(str(p) for p in problems)
        if ack is None:
            text = "kan ikke kvitteres (MessageHeader.id mangler): " + text
        s.add(IntakeLogEntry(filename=filename[:255], bundle_id=msg.bundle_id[:100],
                             header_id=msg.header_id[:100], outcome="fatal-error",
                             problem=text, ack_file=name))
        return Receipt(filename, "fatal-error", "fatal-error" if ack else "", ack, msg.format,
                       name, tuple(problems), None, None, msg.header_id)

    def _refuse_unreadable(self, s, data: bytes, filename: str, reason: str) -> Receipt:
        """A file that is not a readable bundle (truncated, not UTF-8, ...): acknowledged as
        fatal-error if its MessageHeader.id and sender can still be found in the text."""
        fmt = "xml" if data.lstrip()[:1] == b"<" else "json"
        salvaged = _salvage(data, fmt)
        problem = Problem("Bundle", f"filen {reason}", "structure")
        for org in (salvaged.sender, salvaged.receiver):
            if org.sor and not org.ean:
                org.ean = s.scalar(select(IntakeSender.ean).where(
                    IntakeSender.sor == org.sor)) or ""
        return self._refuse(s, salvaged, filename, [problem])

    def _log_only(self, s, msg: CareMessage, filename: str, outcome: str,
                  text: str) -> Receipt:
        s.add(IntakeLogEntry(filename=filename[:255], bundle_id=msg.bundle_id[:100],
                             header_id=msg.header_id[:100], outcome=outcome, problem=text))
        return Receipt(filename, outcome, "", None, msg.format, "", (), None, None,
                       msg.header_id)

    # --- the folders --------------------------------------------------------------------

    def folders(self, inbox: Path | str | None = None, outbox: Path | str | None = None,
                archive: Path | str | None = None,
                need: tuple[str, ...] = ("inbox", "outbox", "archive")):
        """(inbox, outbox, archive): each as given, else the department's setting; one that
        is ``need``ed and neither given nor set is a Danish error naming the option that
        gives it and the command that sets it (a folder not needed may be None)."""
        values = self.settings.all()
        given = {"inbox": inbox, "outbox": outbox, "archive": archive}
        out, missing = {}, []
        for name in ("inbox", "outbox", "archive"):
            value = str(given[name] or values[f"intake.{name}"] or "").strip()
            if not value and name in need:
                missing.append(name)
            out[name] = Path(value) if value else None
        if missing:
            raise ValidationError(
                "mappen er hverken angivet eller sat (sæt den med hjemmeprove intake folders "
                + " ".join(f"--{name} MAPPE" for name in missing) + ")",
                ", ".join(f"--{name}" for name in missing))
        return out["inbox"], out["outbox"], out["archive"]

    def run(self, inbox: Path | str | None = None, outbox: Path | str | None = None,
            archive: Path | str | None = None, csv: bool = True) -> RunSummary:
        """Reads every new bundle in the inbox (oldest first), writes acknowledgements to the
        outbox and moves each file to the archive; then the CSV drop folder, if set."""
        inbox, outbox, archive = self.folders(inbox, outbox, archive)
        if not inbox.is_dir():
            raise ValidationError(f"{inbox} findes ikke eller er ikke en mappe", "indbakke")
        ensure_private_dir(outbox)
        ensure_private_dir(archive)
        summary = RunSummary()
        files = _new_files(inbox, (".json", ".xml"))
        for first in range(0, len(files), BATCH):
            for path, receipt in self._run_batch(files[first:first + BATCH], outbox, archive):
                summary.read += 1
                summary.receipts.append(receipt)
                self._count(summary, receipt)
        if csv:
            folder = str(self.settings.get("intake.csv_folder")).strip()
            if folder:
                summary.csv_imported, summary.csv_rejected = self.run_csv(folder)
        return summary

    def _run_batch(self, paths: list[Path], outbox: Path, archive: Path):
        """Up to BATCH files in one transaction (each file checked and stored as by
        ``receive``), then their acknowledgements written, then the files archived. If the
        transaction fails (another reader stored one of them meanwhile), each file again in
        its own transaction."""
        items = []
        for path in paths:
            try:
                items.append((path, path.read_bytes()))
            except OSError as e:
                raise OutputError(f"{path}: kan ikke læses ({e.strerror})") from e
        parsed = [_parse(data) for _path, data in items]
        try:
            with self.store.session() as s:
                _prefetch(s, [m for m in parsed if isinstance(m, CareMessage)])
                receipts = [self._handle(s, m, data, path.name)
                            for (path, data), m in zip(items, parsed)]
            receipts = [r.resolve() for r in receipts]
        except IntegrityError:
            receipts = [self.receive(data, path.name) for path, data in items]
        write_all_atomic({outbox / r.ack_filename: fhir.dumps(r.ack, r.ack_format)
                          for r in receipts if r.ack is not None})
        for path, _data in items:
            _move(path, archive)
        return [(path, r) for (path, _d), r in zip(items, receipts)]

    @staticmethod
    def _count(summary: RunSummary, receipt: Receipt) -> None:
        if receipt.outcome == "ok":
            summary.ok += 1
        elif receipt.outcome == "duplicate":
            summary.duplicates += 1
        elif receipt.outcome == "acknowledgement":
            summary.acknowledgements += 1
        else:
            summary.rejected += 1

    def run_csv(self, folder: Path | str, today: dt.date | None = None) -> tuple[int, int]:
        """Imports every CSV file in ``folder`` with the all-or-none import; a file that
        imports goes to ``folder/arkiv``, one that does not to ``folder/afvist`` with the
        error report beside it (``<name>.fejl.txt``). Returns (imported, rejected) files."""
        from hjemmeprove.services.importing import import_requests
        from hjemmeprove.services.requests import RequestService

        folder = Path(folder)
        if not folder.is_dir():
            raise ValidationError(f"{folder} findes ikke eller er ikke en mappe", "CSV-mappe")
        service = RequestService(self.store)
        imported = rejected = 0
        for path in _new_files(folder, (".csv",)):
            data = path.read_bytes()
            try:
                ids = import_requests(service, data, today=today)
            except ValidationError as e:
                report = "\n".join(str(err) for err in e.errors) + "\n"
                target = ensure_private_dir(folder / "afvist")
                moved = _move(path, target)
                write_atomic(moved.with_name(moved.name + ".fejl.txt"),
                             f"{path.name} er ikke importeret (alle eller ingen):\n" + report)
                rejected += 1
                continue
            _move(path, ensure_private_dir(folder / "arkiv"))
            with self.store.session() as s:
                s.add(IntakeLogEntry(filename=path.name[:255], outcome="ok",
                                     problem=f"CSV: {len(ids)} henvisninger importeret"))
            imported += 1
        return imported, rejected

    # --- reading ------------------------------------------------------------------------

    def threads(self, unread_only: bool = False, search: str = "",
                limit: int | None = None) -> list[ThreadRow]:
        with self.store.session() as s:
            q = select(IntakeThread).order_by(IntakeThread.last_at.desc(), IntakeThread.id.desc())
            if unread_only:
                q = q.where(IntakeThread.unread)
            if search.strip():
                like = f"%{search.strip()}%"
                q = q.where(or_(IntakeThread.patient_name.ilike(like),
                                IntakeThread.topic.ilike(like),
                                IntakeThread.patient_id.like(like)))
            if limit:
                q = q.limit(limit)
            threads = list(s.scalars(q))
            ids = [t.id for t in threads]
            messages: dict[int, list] = {i: [] for i in ids}
            for chunk in range(0, len(ids), 500):  # the messages' summary columns, not raw
                for m in s.execute(select(
                        IntakeMessage.thread_id, IntakeMessage.direction,
                        IntakeMessage.activity, IntakeMessage.request_id,
                        IntakeMessage.handled)
                        .where(IntakeMessage.thread_id.in_(ids[chunk:chunk + 500]))
                        .order_by(IntakeMessage.sent_at, IntakeMessage.id)):
                    messages[m.thread_id].append(m)
            names = dict(s.execute(select(Municipality.id, Municipality.name)).all())
            return [_thread_row(t, messages[t.id], names) for t in threads]

    def _row(self, s, t: IntakeThread) -> ThreadRow:
        msgs = list(s.execute(select(
            IntakeMessage.thread_id, IntakeMessage.direction, IntakeMessage.activity,
            IntakeMessage.request_id, IntakeMessage.handled)
            .where(IntakeMessage.thread_id == t.id)
            .order_by(IntakeMessage.sent_at, IntakeMessage.id)))
        names = dict(s.execute(select(Municipality.id, Municipality.name)).all())
        return _thread_row(t, msgs, names)

    def thread(self, thread_id: int) -> ThreadDetail:
        with self.store.session() as s:
            t = s.get(IntakeThread, thread_id)
            if t is None:
                raise NotFound(f"tråd {thread_id} findes ikke")
            msgs = list(s.scalars(select(IntakeMessage).where(IntakeMessage.thread_id == t.id)
                                  .order_by(IntakeMessage.sent_at, IntakeMessage.id)))
            direction = {m.id: m.direction for m in msgs}
            segs = list(s.scalars(
                select(IntakeSegment).where(IntakeSegment.thread_id == t.id)
                .order_by(IntakeSegment.at, IntakeSegment.initiator.desc(), IntakeSegment.id)))
            return ThreadDetail(
                row=self._row(s, t),
                messages=tuple(MessageInfo(
                    m.id, m.direction, labels.activity_label(m.activity), local_time(m.sent_at),
                    m.sender_name, m.receiver_name, mask_cpr(m.cpr) if m.cpr else "",
                    m.patient_name, m.other_ids, labels.category_label(m.category),
                    labels.PRIORITY.get(m.priority, m.priority), m.topic, m.episode_of_care,
                    m.ack_code, m.handled, m.request_id) for m in msgs),
                segments=tuple(SegmentInfo(
                    local_time(g.at), g.kind, g.text, g.author, g.author_role, g.author_phone,
                    g.organisation, g.title, g.content_type, g.url, g.message_id,
                    direction.get(g.message_id, "in")) for g in segs))

    def thread_of_message(self, message_id: int) -> int:
        with self.store.session() as s:
            m = s.get(IntakeMessage, message_id)
            if m is None:
                raise NotFound(f"besked {message_id} findes ikke")
            return m.thread_id

    def mark_read(self, thread_id: int, read: bool = True) -> None:
        with self.store.session() as s:
            t = s.get(IntakeThread, thread_id)
            if t is None:
                raise NotFound(f"tråd {thread_id} findes ikke")
            t.unread = not read
            for m in s.scalars(select(IntakeMessage).where(IntakeMessage.thread_id == t.id)):
                m.read = read

    def unread_count(self) -> int:
        with self.store.session() as s:
            return s.scalar(select(func.count()).select_from(IntakeThread)
                            .where(IntakeThread.unread)) or 0

    def log(self, limit: int = 100) -> list[LogRow]:
        with self.store.session() as s:
            q = select(IntakeLogEntry).order_by(IntakeLogEntry.id.desc()).limit(limit)
            return [LogRow(e.at, e.filename, e.outcome, e.problem, e.ack_file)
                    for e in s.scalars(q)]

    def raw(self, message_id: int) -> tuple[bytes, str]:
        with self.store.session() as s:
            m = s.get(IntakeMessage, message_id)
            if m is None:
                raise NotFound(f"besked {message_id} findes ikke")
            return m.raw, m.format

    # --- senders ------------------------------------------------------------------------

    def add_sender(self, municipality_code: int, sor: str = "", ean: str = "",
                   name: str = "") -> int:
        """Registers an organisation (SOR and/or EAN) as speaking for a municipality."""
        require(self.store, "municipalities.edit")
        sor, ean = sor.strip(), ean.strip()
        if not sor and not ean:
            raise ValidationError("SOR eller EAN skal udfyldes", "SOR")
        if sor and not re.fullmatch(r"\d{6,20}", sor):
            raise ValidationError(f"'{sor}' er ikke et SOR-nummer", "SOR")
        if ean and not re.fullmatch(r"\d{13}", ean):
            raise ValidationError(f"'{ean}' er ikke et EAN-nummer på 13 cifre", "EAN")
        with self.store.session() as s:
            muni = s.scalar(select(Municipality).where(Municipality.code == municipality_code))
            if muni is None:
                raise ValidationError(f"{municipality_code} er ikke en kendt kommune",
                                      "kommunekode")
            row = None
            if sor:
                row = s.scalar(select(IntakeSender).where(IntakeSender.sor == sor))
            if row is None and ean:
                row = s.scalar(select(IntakeSender).where(IntakeSender.ean == ean))
            if row is None:
                row = IntakeSender(municipality_id=muni.id)
                s.add(row)
            row.sor, row.ean, row.name = sor or row.sor, ean or row.ean, name or row.name
            row.municipality_id = muni.id
            s.flush()
            return row.id

    # --- from message to request ----------------------------------------------------------

    def propose(self, message_id: int) -> Proposal:
        """The request form's values from a message (Patient, or the stored citizen), the
        hints its text gives (proposed, never applied), and a cancellation if it asks for
        one of a known request."""
        with self.store.session() as s:
            m = s.get(IntakeMessage, message_id)
            if m is None:
                raise NotFound(f"besked {message_id} findes ikke")
            muni = s.get(Municipality, m.municipality_id) if m.municipality_id else None
            texts = [g.text for g in s.scalars(
                select(IntakeSegment).where(IntakeSegment.message_id == m.id,
                                            IntakeSegment.kind == "text")
                .order_by(IntakeSegment.at, IntakeSegment.id))]
            if not texts:  # nothing new in this message: its newest quoted text
                last = s.scalars(select(IntakeSegment).where(
                    IntakeSegment.thread_id == m.thread_id, IntakeSegment.kind == "text")
                    .order_by(IntakeSegment.at.desc())).first()
                texts = [last.text] if last else []
            text = "\n\n".join(texts)
            local = local_time(m.sent_at)
            values = {"cpr": m.cpr, "name": m.patient_name, "address": m.patient_address,
                      "postcode": m.patient_postcode, "city": m.patient_city,
                      "phone": m.patient_phone,
                      "municipality": str(muni.code) if muni else "",
                      "received": local.date().isoformat(), "note": text[:2000],
                      "requester": m.sender_name}
            citizen = s.scalar(select(Citizen).where(Citizen.cpr == m.cpr)) if m.cpr else None
            if citizen is not None and citizen.erased_at is None:
                for key, attr in (("name", "name"), ("address", "address"),
                                  ("postcode", "postcode"), ("city", "city"),
                                  ("phone", "phone")):
                    if not values[key]:
                        values[key] = getattr(citizen, attr)
            hints = tuple(find_hints(text, local.date()))
            cancellation = None
            if asks_to_cancel(text):
                rid = self._request_to_cancel(s, m, text)
                if rid is not None:
                    author = s.scalars(select(IntakeSegment.author).where(
                        IntakeSegment.message_id == m.id)).first() or ""
                    by = ", ".join(x for x in (author, m.sender_name) if x)
                    cancellation = CancelProposal(rid, local, by[:200])
            existing = s.scalars(select(IntakeMessage.request_id).where(
                IntakeMessage.thread_id == m.thread_id,
                IntakeMessage.request_id.is_not(None))).first()
            return Proposal(m.id, values, hints, cancellation, existing)

    def _request_to_cancel(self, s, m: IntakeMessage, text: str) -> int | None:
        active = ("open", "planned", "locked")
        number = cancellation_request_number(text)
        if number is not None:
            req = s.get(Request, number)
            if req is not None and req.status in active and (
                    m.municipality_id is None or req.municipality_id == m.municipality_id):
                return req.id
        linked = s.scalars(select(IntakeMessage.request_id).where(
            IntakeMessage.thread_id == m.thread_id, IntakeMessage.request_id.is_not(None),
            IntakeMessage.handled == "request")).first()
        if linked is not None:
            req = s.get(Request, linked)
            if req is not None and req.status in active:
                return req.id
        if m.cpr:
            ids = list(s.scalars(select(Request.id).join(Citizen).where(
                Citizen.cpr == m.cpr, Request.status.in_(active),
                Request.municipality_id == m.municipality_id)))
            if len(ids) == 1:
                return ids[0]
        return None

    def create_request(self, message_id: int, values: dict[str, str],
                       today: dt.date | None = None) -> int:
        """Saves the (reviewed) form values as a request linked to the message, in one
        transaction; the same checks as the form (RequestService.validate)."""
        from hjemmeprove.services.requests import RequestService

        service = RequestService(self.store)
        with self.store.session() as s:
            m = s.get(IntakeMessage, message_id)
            if m is None:
                raise NotFound(f"besked {message_id} findes ikke")
            if m.request_id is not None:
                raise ValidationError(f"beskeden er allerede henvisning {m.request_id}",
                                      "besked")
            data, errors = service.validate(values, today=today, session=s)
            if errors:
                raise ValidationError(errors)
            req = service.add_validated(s, data)
            m.request_id, m.handled, m.read = req.id, "request", True
            s.get(IntakeThread, m.thread_id).unread = False
            return req.id

    def link_request(self, message_id: int, request_id: int) -> None:
        """Links a message to the request the form saved from it (the desktop form saves
        through RequestService with its own checks and confirmations; this records where the
        request came from)."""
        with self.store.session() as s:
            m = s.get(IntakeMessage, message_id)
            if m is None:
                raise NotFound(f"besked {message_id} findes ikke")
            if s.get(Request, request_id) is None:
                raise NotFound(f"henvisning {request_id} findes ikke")
            m.request_id, m.handled, m.read = request_id, "request", True
            s.get(IntakeThread, m.thread_id).unread = False

    def cancel_from_message(self, message_id: int, request_id: int | None = None,
                            by: str | None = None):
        """Records the cancellation a message asks for: the message's time, channel
        electronic (RequestService.cancel decides whether it is late)."""
        proposal = self.propose(message_id)
        if request_id is None:
            if proposal.cancellation is None:
                raise ValidationError("beskeden peger ikke på én kendt henvisning",
                                      "henvisning")
            request_id = proposal.cancellation.request_id
        with self.store.session() as s:
            m = s.get(IntakeMessage, message_id)
            at = local_time(m.sent_at)
            header = m.header_id
        who = by or (proposal.cancellation.by if proposal.cancellation else "") or "kommunen"
        from hjemmeprove.services.planning import PlanningService

        # recorded with its route measured again over the stops it keeps (not re-planned)
        result = PlanningService(self.store).cancel_and_replan(
            request_id, at, who, "electronic", note=f"Elektronisk besked {header}",
            replan=False)
        with self.store.session() as s:
            m = s.get(IntakeMessage, message_id)
            m.request_id, m.handled, m.read = request_id, "cancellation", True
            s.get(IntakeThread, m.thread_id).unread = False
        return result

    def dismiss(self, message_id: int) -> None:
        with self.store.session() as s:
            m = s.get(IntakeMessage, message_id)
            if m is None:
                raise NotFound(f"besked {message_id} findes ikke")
            m.handled, m.read = "dismissed", True

    # --- replying -------------------------------------------------------------------------

    def reply_text(self, request_id: int) -> str:
        """The reply about a request: its planned date and window (domain rule 4)."""
        with self.store.session() as s:
            req = s.get(Request, request_id)
            if req is None:
                raise NotFound(f"henvisning {request_id} findes ikke")
            visit = s.scalars(select(Visit).where(Visit.request_id == request_id,
                                                  Visit.outcome.is_(None))
                              .order_by(Visit.date)).first()
            name = req.citizen.name
            if visit is None or visit.date is None:
                raise ValidationError(f"henvisning {request_id} er ikke planlagt endnu",
                                      "henvisning")
            day = f"{labels_weekday(visit.date)} {visit.date.strftime('%d.%m.%Y')}"
            if visit.window_start and visit.window_end:
                window = (f" mellem kl. {visit.window_start.strftime('%H:%M')} og "
                          f"{visit.window_end.strftime('%H:%M')}")
            else:
                window = ""
            return (f"Blodprøvetagning i eget hjem for {name} (henvisning {request_id}) er "
                    f"planlagt {day}{window}. Svar venligst, hvis tidspunktet ikke passer.")

    def reply(self, request_id: int, text: str | None = None, outbox: Path | str | None = None,
              author: str | None = None, phone: str = "", now: dt.datetime | None = None
              ) -> Path:
        """Sends ``text`` (default: the planned date and window) as a CareCommunication reply
        in the thread the request came from; the planned visit is then locked in its window
        (PlanningService.lock), as a reply sent by ``routes replies`` locks it."""
        require(self.store, "planning.edit")
        text = text or self.reply_text(request_id)
        with self.store.session() as s:
            thread_id = s.scalars(select(IntakeMessage.thread_id).where(
                IntakeMessage.request_id == request_id)).first()
        if thread_id is None:
            raise ValidationError(f"henvisning {request_id} kom ikke som elektronisk besked; "
                                  "svar på anden vis", "henvisning")
        path = self.reply_in_thread(thread_id, text, outbox, author, phone, now,
                                    request_id=request_id)
        with self.store.session() as s:  # the reply is sent: its window is kept (rule 4)
            visit_ids = list(s.scalars(select(Visit.id).where(
                Visit.request_id == request_id, Visit.outcome.is_(None),
                Visit.route_id.is_not(None))))
        if visit_ids:
            from hjemmeprove.services.planning import PlanningService

            PlanningService(self.store).lock(visit_ids)
        return path

    def reply_in_thread(self, thread_id: int, text: str, outbox: Path | str | None = None,
                        author: str | None = None, phone: str = "",
                        now: dt.datetime | None = None, request_id: int | None = None) -> Path:
        """A CareCommunication reply to the thread's newest received message: written whole
        to the outbox (in the format that message came in), then recorded in the thread."""
        require(self.store, "requests.edit")
        if not (text or "").strip():
            raise ValidationError("skal udfyldes", "svartekst")
        with self.store.session() as s:
            last = s.scalars(select(IntakeMessage).where(
                IntakeMessage.thread_id == thread_id, IntakeMessage.direction == "in")
                .order_by(IntakeMessage.sent_at.desc(), IntakeMessage.id.desc())).first()
            if last is None:
                raise NotFound(f"tråd {thread_id} har ingen modtagne beskeder")
            raw, fmt = last.raw, last.format
            dept_phone = phone
            if not dept_phone:
                dept = s.scalars(select(Department)).first()
                dept_phone = dept.contact_phone if dept and dept.contact_phone else ""
        resource, _ = fhir.parse(raw)
        previous = read_message(resource, fmt)
        bundle, header_id, _ = build_reply(previous, text.strip(), author or self.store.user,
                                           "Koordinator, Klinisk Biokemisk Afdeling",
                                           dept_phone or "ukendt", now)
        data = fhir.dumps(bundle, fmt)
        if outbox is None:
            outbox = self.folders(need=("outbox",))[1]
        path = write_atomic(Path(outbox) / f"svar-{header_id}.{fmt}", data)
        sent = read_message(bundle, fmt)
        with self.store.session() as s:
            thread = s.get(IntakeThread, thread_id)
            row = IntakeMessage(
                thread=thread, direction="out", bundle_id=sent.bundle_id,
                header_id=header_id, activity="reply-message",
                previous_header_id=previous.header_id, sent_at=sent.timestamp,
                filename=path.name, format=fmt, raw=data,
                sha256=hashlib.sha256(data).hexdigest(), sender_sor=sent.sender.sor,
                sender_ean=sent.sender.ean, sender_name=sent.sender.label()[:200],
                receiver_sor=sent.receiver.sor, receiver_ean=sent.receiver.ean,
                receiver_name=sent.receiver.label()[:200],
                municipality_id=thread.municipality_id, cpr=sent.patient.cpr,
                patient_name=sent.patient.name[:200], category=sent.category,
                topic=sent.topic[:200], read=True, handled="", request_id=request_id,
                ack_code="")
            s.add(row)
            s.flush()
            self._add_segments(s, thread, row, sent)
            thread.last_at = max(thread.last_at or sent.timestamp, sent.timestamp)
            s.add(IntakeLogEntry(filename=path.name, bundle_id=sent.bundle_id,
                                 header_id=header_id, outcome="sent", message_id=row.id,
                                 problem=f"svar i tråd {thread_id}"))
        return path


# --- helpers --------------------------------------------------------------------------------


_HEADER_QUERY = select(IntakeMessage.id, IntakeMessage.thread_id, IntakeMessage.ack_code,
                       IntakeMessage.ack_json, IntakeMessage.header_id)  # not the raw bytes


def _parse(data: bytes) -> CareMessage | str:
    try:
        resource, fmt = fhir.parse(data)
    except fhir.FhirFormatError as e:
        return str(e)
    return read_message(resource, fmt)


def _prefetch(s, msgs: list[CareMessage]) -> None:
    """Which of a batch's messages and threads are stored already: two queries for the
    batch instead of two per message (``_receive`` reads the answers from ``s.info``)."""
    headers = sorted({m.header_id for m in msgs if m.header_id})
    idents = sorted({m.thread for m in msgs if m.thread})
    known = s.info.setdefault("intake_known", {})
    threads = s.info.setdefault("intake_threads", {})
    for first in range(0, len(headers), 500):
        chunk = headers[first:first + 500]
        known.update(dict.fromkeys(chunk))
        for row in s.execute(_HEADER_QUERY.where(IntakeMessage.header_id.in_(chunk))):
            known[row.header_id] = row
    for first in range(0, len(idents), 500):
        chunk = idents[first:first + 500]
        for t in s.scalars(select(IntakeThread).where(IntakeThread.identifier.in_(chunk))):
            threads[t.identifier] = t
    s.info["intake_no_thread"] = set(idents) - set(threads)


def _thread_row(t: IntakeThread, msgs: list, names: dict) -> ThreadRow:
    last_in = [m for m in msgs if m.direction == "in"]
    linked = next((m for m in reversed(last_in) if m.request_id is not None), None)
    return ThreadRow(
        id=t.id, identifier=t.identifier, municipality=names.get(t.municipality_id, ""),
        patient=_masked(t.patient_id), patient_name=t.patient_name,
        category=labels.category_label(t.category), topic=t.topic,
        last_at=local_time(t.last_at), unread=t.unread, messages=len(msgs),
        last_activity=labels.activity_label(last_in[-1].activity if last_in else ""),
        request_id=linked.request_id if linked else None,
        handled=linked.handled if linked else "")


def labels_weekday(day: dt.date) -> str:
    return ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")[
        day.weekday()]


def _masked(patient_id: str) -> str:
    if re.fullmatch(r"\d{6}-\d{4}", patient_id or ""):
        return mask_cpr(patient_id)
    return patient_id


def _sender_municipality(s, msg: CareMessage) -> tuple[int | None, Problem | None]:
    """The municipality (with an agreement) that the sender organisation speaks for
    (remembered for the session: a run reads many messages from few senders)."""
    cache = s.info.setdefault("intake_senders", {})
    key = (msg.sender.sor, msg.sender.ean, msg.sender.label())
    if key not in cache:
        cache[key] = _lookup_sender(s, msg)
    return cache[key]


def _lookup_sender(s, msg: CareMessage) -> tuple[int | None, Problem | None]:
    row = None
    if msg.sender.sor:
        row = s.scalar(select(IntakeSender).where(IntakeSender.sor == msg.sender.sor))
    if row is None and msg.sender.ean:
        row = s.scalar(select(IntakeSender).where(IntakeSender.ean == msg.sender.ean))
    muni_id = row.municipality_id if row is not None else None
    if muni_id is None and msg.sender.ean:
        muni_id = s.scalar(select(Municipality.id).where(Municipality.ean == msg.sender.ean))
    who = f"{msg.sender.label()} (SOR {msg.sender.sor or '-'}, EAN {msg.sender.ean or '-'})"
    if muni_id is None:
        return None, Problem("MessageHeader.sender", f"afsenderen {who} er ikke kendt som "
                             "en kommune med aftale hos afdelingen", "not-found")
    if s.scalar(select(func.count()).select_from(Agreement)
                .where(Agreement.municipality_id == muni_id)) == 0:
        return None, Problem("MessageHeader.sender", f"afsenderens kommune ({who}) har ingen "
                             "aftale med afdelingen", "not-found")
    return muni_id, None


def _names_from_registry(s, msg: CareMessage) -> None:
    """Organisation names the message leaves out (they are optional), from the registered
    senders by SOR (the test protocol's "names from SOR")."""
    cache = s.info.setdefault("intake_names", {})
    for org in (msg.sender, msg.receiver):
        if not org.name and org.sor:
            if org.sor not in cache:
                cache[org.sor] = s.scalar(select(IntakeSender.name).where(
                    IntakeSender.sor == org.sor)) or ""
            org.name = cache[org.sor]


def _ack_name(ack: dict, fmt: str) -> str:
    return f"kvittering-{ack['id']}.{fmt}"


_ID_PATTERNS = {
    "json": (r'"resourceType"\s*:\s*"Bundle"\s*,\s*"id"\s*:\s*"([^"]{1,100})"',
             r'"resourceType"\s*:\s*"MessageHeader"\s*,\s*"id"\s*:\s*"([^"]{1,100})"'),
    "xml": (r'<Bundle[^>]*>\s*<id\s+value="([^"]{1,100})"',
            r'<MessageHeader[^>]*>\s*<id\s+value="([^"]{1,100})"'),
}
_EAN_SOR = {  # an Organization's identifiers, EAN then SOR, as MedCom's senders write them
    "json": re.compile(r'"system"\s*:\s*"https://www\.gs1\.org/gln"\s*,\s*"value"\s*:\s*'
                       r'"(\d{13})"\s*}\s*,\s*{\s*"system"\s*:\s*"urn:oid:1\.2\.208\.176\.1\.1"'
                       r'\s*,\s*"value"\s*:\s*"(\d{6,20})"'),
    "xml": re.compile(r'<system value="https://www\.gs1\.org/gln"/>\s*<value value="(\d{13})"/>'
                      r'\s*</identifier>\s*<identifier>\s*<system value="urn:oid:1\.2\.208\.176'
                      r'\.1\.1"/>\s*<value value="(\d{6,20})"/>'),
}
_ENDPOINT = re.compile(r'https://sor2\.sum\.dsdn\.dk/#id=(\d{6,20})')


def _salvage(data: bytes, fmt: str) -> CareMessage:
    """What can be read of an unreadable bundle to acknowledge it: the ids and endpoints
    (destination first, then source, as a MessageHeader lists them)."""
    from hjemmeprove.intake.message import Organisation, SOR_ENDPOINT

    text = data[:2_000_000].decode("utf-8", errors="replace")
    msg = CareMessage(format=fmt, resource={})
    bundle_re, header_re = _ID_PATTERNS[fmt]
    if (m := re.search(bundle_re, text)):
        msg.bundle_id = m.group(1)
    if (m := re.search(header_re, text)):
        msg.header_id = m.group(1)
        endpoints = _ENDPOINT.findall(text[m.end():m.end() + 20000])
        if len(endpoints) >= 2:
            eans = {sor: ean for ean, sor in _EAN_SOR[fmt].findall(text)}
            msg.receiver = Organisation(sor=endpoints[0], ean=eans.get(endpoints[0], ""))
            msg.sender = Organisation(sor=endpoints[1], ean=eans.get(endpoints[1], ""))
            msg.destination_endpoint = SOR_ENDPOINT + endpoints[0]
            msg.source_endpoint = SOR_ENDPOINT + endpoints[1]
    return msg


def _new_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files in ``folder`` waiting to be read, oldest first (hidden and partial ones not)."""
    out = []
    for entry in os.scandir(folder):
        name = entry.name
        if (not entry.is_file() or name.startswith(".")
                or name.endswith(IGNORED_SUFFIXES) or not name.lower().endswith(suffixes)):
            continue
        out.append((entry.stat().st_mtime, name, Path(entry.path)))
    return [p for _, _, p in sorted(out)]


def _move(path: Path, folder: Path) -> Path:
    """Moves ``path`` into ``folder`` under a name not yet taken there."""
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    try:
        shutil.move(str(path), str(target))
    except OSError as e:
        raise OutputError(f"{path}: kan ikke flyttes til {folder} ({e.strerror})") from e
    return target


