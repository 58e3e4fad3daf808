"""MedCom's receive test protocol for CareCommunication (October 2025, v5.0.0), file by file
in the protocol's order, through the inbox folder: what is shown (and in which thread and
order), and the acknowledgement's code and receiver.

Run on SQLite and PostgreSQL (each test gets a fresh database)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from hjemmeprove.intake import fhir
from hjemmeprove.intake.message import read_message
from hjemmeprove.intake.service import IntakeService
from tests.intake_support import check_acknowledgement, example, register_senders

AUH = "441211000016000"
HERLEV = "265161000016000"
ARDEN = "382871000016004"
AALBORG = "328081000016004"
AABENRAA = "330461000016004"
FDIS = "325371000016006"


class Inbox:
    def __init__(self, app, tmp_path):
        self.service = IntakeService(app.store)
        self.inbox, self.outbox, self.archive = (tmp_path / "ind", tmp_path / "ud",
                                                 tmp_path / "arkiv")
        self.inbox.mkdir()

    def load(self, prefix: str, data: bytes | None = None):
        path = example(prefix)
        (self.inbox / path.name).write_bytes(data if data is not None else path.read_bytes())
        summary = self.service.run(self.inbox, self.outbox, self.archive, csv=False)
        [receipt] = summary.receipts
        assert not any(self.inbox.iterdir()), "the file leaves the inbox"
        ack = None
        if receipt.ack_filename:
            ack_path = self.outbox / receipt.ack_filename
            ack = check_acknowledgement(ack_path.read_bytes(), path.suffix[1:])
        return receipt, ack

    def shown(self) -> int:
        return sum(len(self.service.thread(t.id).messages) for t in self.service.threads())

    def thread_of(self, receipt):
        return self.service.thread(receipt.thread_id)


def _ok(receipt, ack, sender_sor):
    assert receipt.outcome == "ok" and receipt.shown
    assert ack["code"] == "ok"
    assert ack["receiver_sor"] == sender_sor  # acknowledgement goes back to the sender
    assert ack["endpoint"].startswith("https://sor2.sum.dsdn.dk/#id=")  # the source.endpoint
    assert ack["response_to"] == receipt.header_id


def _texts(detail):
    return [(s.kind, s.text[:25] or s.title) for s in detail.segments]


def test_receive_protocol_file_by_file(department_app, tmp_path):
    register_senders(department_app)
    box = Inbox(department_app, tmp_path)

    # R1 3.1.1: a new CareCommunication, indicated as new, with all its information
    r, ack = box.load("R-A-new")
    _ok(r, ack, AUH)
    d = box.thread_of(r)
    assert d.row.unread and d.row.last_activity == "Ny"
    assert d.row.patient == "250947-XXXX" and d.row.patient_name == "Bruno Elmer"
    assert d.row.category == "Udvidet behandlingsansvar" and d.row.topic == "Kritisk tilstand"
    assert [s.kind for s in d.segments] == ["text", "attachment"]
    text, attachment = d.segments
    assert text.author == "Michael Burns" and text.author_phone == "38683868"
    assert text.author_role == "socialogsundhedsmedhjaelper"
    assert attachment.title == "Oversigt" and attachment.content_type == "application/pdf"

    # R2 3.1.2: a reply; the earlier segment and the new ones, in time order
    r, ack = box.load("R-B-reply")
    _ok(r, ack, HERLEV)
    d = box.thread_of(r)
    assert d.row.last_activity == "Svar"
    assert [s.at for s in d.segments] == sorted(s.at for s in d.segments)
    assert _texts(d)[0] == ("text", "Til rette vedkommende. Vi")
    assert [s.kind for s in d.segments] == ["text", "text", "attachment"]

    # R3 3.1.3: a forward; each segment with its own sender organisation
    r, ack = box.load("R-C-forward")
    _ok(r, ack, AALBORG)
    d = box.thread_of(r)
    assert d.row.last_activity == "Videresendt"
    assert [s.organisation for s in d.segments] == [
        "SOR 1382601000016006", "Hjemmesygeplejen, Aalborg kommune"]

    # 3.2.1.1-4: priority, line breaks, seven attachments (one a URL), zulu time
    r, ack = box.load("R-Tek-A")
    _ok(r, ack, AUH)
    d = box.thread_of(r)
    assert d.messages[0].priority == "Haster"
    assert "\n" in d.segments[0].text
    assert sum(s.kind == "attachment" for s in d.segments) == 7
    assert any(s.url for s in d.segments)
    assert d.segments[0].at == dt.datetime(2024, 8, 17, 16, 0)  # 14:00Z is 16:00 in Denmark
    assert d.messages[0].episode_of_care

    # 3.2.1.5-7: a time zone; a replacement CPR; instance ids that are not UUIDs
    r, ack = box.load("R-Tek-B")
    _ok(r, ack, AUH)
    d = box.thread_of(r)
    assert d.segments[0].at == dt.datetime(2024, 11, 2, 8, 0)
    assert d.row.patient == "1206550VK9" and d.messages[0].patient == ""

    # 3.2.1.8: more information than the standard: loaded, the extra ignored
    r, ack = box.load("R-Tek-C")
    _ok(r, ack, "1053231000016001")

    # 3.2.1.9: two practitioners of one organisation, each with his segment
    r, ack = box.load("R-Tek-H")
    _ok(r, ack, HERLEV)
    d = box.thread_of(r)
    assert len({s.author for s in d.segments}) == 2
    h_thread = r.thread_id

    # 3.2.1.10: no organisation names: the names of the registered SOR numbers
    r, ack = box.load("R-Tek-D")
    _ok(r, ack, AUH)
    d = box.thread_of(r)
    assert d.messages[0].sender == "Klinik for Ældresygdomme, AUH, Skejby"
    assert d.messages[0].receiver == "Sundhedsplejen, Aabenraa kommune"

    # 3.2.3: several CPR numbers, replacement CPRs; the three share one thread
    threads_before = len(box.service.threads())
    r1, ack = box.load("R-Tek-CPR-1")
    _ok(r1, ack, FDIS)
    r2, ack = box.load("R-Tek-CPR-2")
    _ok(r2, ack, FDIS)
    r3, ack = box.load("R-Tek-CPR-3")
    _ok(r3, ack, FDIS)
    assert r1.thread_id == r2.thread_id == r3.thread_id
    assert len(box.service.threads()) == threads_before + 1
    d = box.thread_of(r3)
    assert [m.patient for m in d.messages] == ["250947-XXXX", "250947-XXXX", ""]
    assert "0703921VJ4" in d.messages[0].other_ids
    assert d.messages[1].other_ids.count("|") == 2
    assert d.row.patient == "0703921VJ5"  # the newest message names no CPR

    # 3.2.4: parallel replies: E, our reply, then F (a reply to E) in one thread, in time order
    r_e, ack = box.load("R-Tek-E-new-parallel")
    _ok(r_e, ack, HERLEV)
    sent = box.service.reply_in_thread(r_e.thread_id, "Vi ser på det.", box.outbox,
                                       now=dt.datetime(2024, 8, 21, 13, 0,
                                                       tzinfo=dt.timezone.utc))
    assert sent.exists() and sent.suffix == ".json"
    ours = read_message(*fhir.parse(sent.read_bytes()))  # a valid CareCommunication reply
    assert ours.problems == [] and ours.activity == "reply-message"
    assert ours.receiver.sor == HERLEV and ours.previous_header_id == r_e.header_id
    r_f, ack = box.load("R-Tek-F-new-parallel")
    _ok(r_f, ack, ARDEN)
    assert r_f.thread_id == r_e.thread_id
    d = box.thread_of(r_f)
    assert [(s.direction, s.kind) for s in d.segments] == [
        ("in", "text"), ("out", "text"), ("in", "text"), ("in", "attachment")]
    assert [m.direction for m in d.messages] == ["in", "out", "in"]

    # 3.2.5: an acknowledgement is returned
    r, ack = box.load("R-Tek-G")
    _ok(r, ack, AABENRAA)

    # 3.2.6: a reply (H, loaded above) before its new message (I): one thread, time order
    shown = box.shown()
    r, ack = box.load("R-Tek-H")  # H once more, as this step loads it: a duplicate
    assert r.outcome == "duplicate" and ack["code"] == "ok" and ack["receiver_sor"] == HERLEV
    assert box.shown() == shown
    r, ack = box.load("R-Tek-I-reply-order")
    _ok(r, ack, HERLEV)
    assert r.thread_id == h_thread
    d = box.thread_of(r)
    assert len(d.segments) == 2 and d.segments[0].at < d.segments[1].at
    assert d.row.last_activity == "Svar" and d.row.unread  # "appears as replied"
    assert [m.activity for m in d.messages] == ["Ny", "Svar"]

    # 3.2.7.1-4: positive duplicate, identical Bundle.id: shown once, acknowledged ok twice
    r, ack = box.load("R-Tek-J-dublicate")
    _ok(r, ack, AUH)
    shown = box.shown()
    r, ack = box.load("R-Tek-J-dublicate")
    assert r.outcome == "duplicate" and not r.shown
    assert ack["code"] == "ok" and ack["receiver_sor"] == AUH
    assert box.shown() == shown

    # 3.2.7.5-8: positive duplicate, another Bundle.id (and format): shown once, ok twice
    r_k, ack = box.load("R-Tek-K-dublicate")
    _ok(r_k, ack, AUH)
    r, ack = box.load("R-Tek-L-dublicate")
    assert r.outcome == "duplicate" and r.message_id == r_k.message_id
    assert ack["code"] == "ok" and ack["receiver_sor"] == AUH
    assert box.shown() == shown + 1

    # 3.2.7.9-12: negative duplicate: fatal-error both times, to the sender, nothing shown
    shown = box.shown()
    for prefix in ("R-Tek-M-dublicate-inv", "R-Tek-N-dublicate-inv"):
        r, ack = box.load(prefix)
        assert r.outcome == "fatal-error" and not r.shown
        assert ack["code"] == "fatal-error" and ack["receiver_sor"] == AUH
        assert any("Provenance" in i or "beskedsegment" in i for i in ack["issues"])
    assert box.shown() == shown

    # 3.2.8: an invalid message (as MedCom intends it: its message text removed, see
    # tests/data/medcom/SOURCES.md): fatal-error describing the error, not shown
    data = json.loads(example("R-Tek-O-invalid").read_bytes())
    for entry in data["entry"]:
        if entry["resource"]["resourceType"] == "Communication":
            del entry["resource"]["payload"][0]["contentString"]
    r, ack = box.load("R-Tek-O-invalid", json.dumps(data).encode())
    assert r.outcome == "fatal-error" and not r.shown
    assert ack["code"] == "fatal-error" and ack["receiver_sor"] == AUH
    assert any("contentString" in i or "tekst" in i for i in ack["issues"])
    assert box.shown() == shown

    # everything read went to the archive; the log names every file
    assert len(list(box.archive.iterdir())) == 23  # 21 files, H and J twice
    assert len(box.service.log(limit=100)) == 24  # and the reply we sent


def test_invalid_category_is_refused_with_the_error_named(department_app, tmp_path):
    """The protocol's example of an invalid message: no valid Communication.category."""
    register_senders(department_app)
    box = Inbox(department_app, tmp_path)
    data = json.loads(example("R-Tek-O-invalid").read_bytes())
    for entry in data["entry"]:
        if entry["resource"]["resourceType"] == "Communication":
            entry["resource"]["category"][0]["coding"][0]["code"] = "blodprøve"
    r, ack = box.load("R-Tek-O-invalid", json.dumps(data).encode())
    assert r.outcome == "fatal-error"
    assert any("kategori" in i for i in ack["issues"])
    for entry in data["entry"]:
        if entry["resource"]["resourceType"] == "Communication":
            del entry["resource"]["category"]
    r, ack = box.load("R-Tek-O-invalid", json.dumps(data).encode())
    assert r.outcome == "fatal-error" and any("kategori" in i for i in ack["issues"])
    assert box.service.threads() == []


def test_published_invalid_example_is_a_valid_message(department_app, tmp_path):
    """The O file as MedCom publishes it passes (see tests/data/medcom/SOURCES.md)."""
    register_senders(department_app)
    r, ack = Inbox(department_app, tmp_path).load("R-Tek-O-invalid")
    assert r.outcome == "ok" and ack["code"] == "ok"


@pytest.mark.parametrize("prefix", ["R-A-new", "R-B-reply"])
def test_unknown_sender_is_refused(department_app, tmp_path, prefix):
    r, ack = Inbox(department_app, tmp_path).load(prefix)
    assert r.outcome == "fatal-error" and ack["code"] == "fatal-error"
    assert any("ikke kendt" in i for i in ack["issues"])
