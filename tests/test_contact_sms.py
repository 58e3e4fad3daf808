"""The SMS outbox against a fake gateway: a real HTTP server on 127.0.0.1 in the test that
answers, fails (HTTP 500, 400) and times out; no mock that cannot fail. Also: what an SMS may
say (no CPR, no name, no clinical note) and the dry-run CSV."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hjemmeprove.cli import main
from hjemmeprove.contact import template
from hjemmeprove.contact.gateway import GatewayConfig, send, status_at
from hjemmeprove.errors import ValidationError
from tests.test_contact import EASTER_TUE, TUE, add_visit


class FakeGateway:
    """Answers each POST by the next planned behaviour: ("ok", json), ("status", code) or
    ("slow", seconds); records what it received."""

    def __init__(self):
        self.plan: list[tuple] = []
        self.received: list[dict] = []
        gw = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                gw.received.append({"body": json.loads(body), "auth":
                                    self.headers.get("Authorization"), "path": self.path})
                kind, arg = gw.plan.pop(0) if gw.plan else ("ok", {"status": "accepted"})
                try:
                    if kind == "slow":
                        time.sleep(arg)
                        kind, arg = "ok", {"status": "accepted"}
                    if kind == "status":
                        self.send_response(arg)
                        self.end_headers()
                        self.wfile.write(b"error")
                        return
                    data = json.dumps(arg).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    gw = FakeGateway()
    yield gw
    gw.close()


def config(gw, **kw) -> GatewayConfig:
    return GatewayConfig(url=gw.url, auth_header="Authorization: Bearer hemmelig",
                         body_template='{"to": "{telefon}", "text": "{besked}", '
                                       '"meta": {"ref": "{reference}", '
                                       '"when": "{dato} {tidsrum}"}}',
                         status_path="data.0.status", timeout_s=kw.pop("timeout_s", 2.0),
                         max_attempts=kw.pop("max_attempts", 3), backoff_s=0.01, **kw)


VALUES = {"telefon": "+4520304050", "besked": "Hej", "reference": "hp-1", "dato": "tirsdag",
          "tidsrum": "09:00-11:00"}


def test_send_refuses_an_address_that_is_no_web_address(gateway):
    """A gateway address stored before the setting's rule (``settings.web_address``) is
    refused by the same rule when a message would go out, before anything is sent."""
    from hjemmeprove.errors import ValidationError

    for url in ("ftp://x", "file:///etc/passwd", "http://"):
        gw = type("Gw", (), {"url": url})()
        with pytest.raises(ValidationError, match="webadresse"):
            send(config(gw), VALUES)
    assert gateway.received == []


def test_send_posts_the_template_with_the_auth_header(gateway):
    gateway.plan = [("ok", {"data": [{"status": "delivered"}]})]
    r = send(config(gateway), VALUES)
    assert (r.status, r.attempts, r.gateway_status) == ("delivered", 1, "delivered")
    (got,) = gateway.received
    assert got["auth"] == "Bearer hemmelig"
    assert got["body"] == {"to": "+4520304050", "text": "Hej",
                           "meta": {"ref": "hp-1", "when": "tirsdag 09:00-11:00"}}


def test_send_retries_500_with_backoff_then_succeeds(gateway):
    gateway.plan = [("status", 500), ("status", 503), ("ok", {"data": [{"status": "queued"}]})]
    waits = []
    r = send(config(gateway), VALUES, sleep=waits.append)
    assert (r.status, r.attempts, r.gateway_status) == ("sent", 3, "queued")
    assert waits == [0.01, 0.02] and len(gateway.received) == 3


def test_send_gives_up_after_max_attempts_and_at_once_on_400(gateway):
    gateway.plan = [("status", 500)] * 3
    r = send(config(gateway), VALUES, sleep=lambda s: None)
    assert (r.status, r.attempts, r.error) == ("failed", 3, "HTTP-status 500 (Internal Server Error)")
    gateway.plan = [("status", 400)]
    r = send(config(gateway), VALUES, sleep=lambda s: None)
    assert (r.status, r.attempts) == ("failed", 1)


def test_send_times_out(gateway):
    gateway.plan = [("slow", 1.0), ("slow", 1.0)]
    r = send(config(gateway, timeout_s=0.2, max_attempts=2), VALUES, sleep=lambda s: None)
    assert r.status == "failed" and r.attempts == 2 and "intet svar" in r.error


def test_failed_answer_value_and_refused_connection(gateway):
    gateway.plan = [("ok", {"data": [{"status": "REJECTED"}]})]
    assert send(config(gateway), VALUES).status == "failed"
    dead = GatewayConfig(url="http://127.0.0.1:9/sms", max_attempts=2, backoff_s=0.0,
                         timeout_s=1.0)
    r = send(dead, VALUES)
    assert r.status == "failed" and r.error == ("forbindelsen blev afvist (kører SMS-gatewayen, og er porten rigtig?)")


def test_status_path():
    assert status_at({"data": [{"status": "ok"}]}, "data.0.status") == "ok"
    assert status_at({"data": []}, "data.0.status") == ""
    assert status_at({"status": 7}, "status") == "7"


@pytest.mark.parametrize("text", [
    "Vi kommer {dato} kl. {tidsrum}, {cpr}",  # a placeholder that is not allowed
    "Vi kommer {dato} kl. {tidsrum} til din blodprøve",  # clinical
    "Vi kommer {dato} kl. {tidsrum}, husk at være fastende",
    "Vi kommer {dato} kl. {tidsrum} til 010150-1234",  # a CPR number typed in
    "Vi kommer snart",  # no date and window
])
def test_message_templates_are_checked_when_saved(app, text):
    with pytest.raises(ValidationError):
        app.settings.set("sms.message_template", text)


def test_body_template_checked_when_saved(app):
    with pytest.raises(ValidationError):
        app.settings.set("sms.body_template", '{"to": "{telefon}", "text": "{besked}"')
    with pytest.raises(ValidationError):
        app.settings.set("sms.body_template", '{"to": "{telefon}", "text": "{navn}"}')
    app.settings.set("sms.body_template", '{"recipients": ["{telefon}"], "msg": "{besked}"}')


def test_build_message_refuses_the_citizens_own_data():
    tmpl = "Besøg {dato} kl. {tidsrum}. Aflys: {aflys_tlf}. {afsender}"
    values = {"dato": "tirsdag", "tidsrum": "09:00-11:00", "aflys_tlf": "+4562223000",
              "afsender": "OUH"}
    assert "+4562223000" in template.build_message(tmpl, values, never=("010150-1234",))
    with pytest.raises(ValidationError):
        template.build_message(tmpl, {**values, "afsender": "Karen Jensen"},
                               never=("Karen Jensen",))


def _sms_day(app, gw):
    app.settings.set("contact.cancel_phone", "62 22 30 00")
    app.settings.set("sms.gateway_url", gw.url)
    app.settings.set("sms.status_path", "status")
    a = add_visit(app, EASTER_TUE, "010150-1234", "Karen Jensen", note="Fastende, INR",
                  access_info="Nøgleboks 4711")
    b = add_visit(app, EASTER_TUE, "020250-1234", "Bent Bæk", start=dt.time(11))
    c = add_visit(app, EASTER_TUE, "030350-1234", "Carl Calls")  # no consent: a phone call
    for vid, mobile in ((a, "+4520304050"), (b, "20304051")):
        rid = next(r.request_id for r in app.contact.day_list(TUE).rows if r.visit_id == vid)
        app.contact.set_preference(rid, "sms", sms_consent=True, mobile=mobile)
    return a, b, c


def test_outbox_sends_retries_and_marks_failures(department_app, gateway):
    app = department_app
    a, b, c = _sms_day(app, gateway)
    assert app.contact.queue_sms(TUE) == 2
    assert app.contact.queue_sms(TUE) == 0  # never twice
    msgs = app.contact.outbox()
    for m in msgs:
        assert "010150" not in m["text"] and "Karen" not in m["text"]
        assert "Fastende" not in m["text"] and "4711" not in m["text"]
        assert "62 22 30 00" in m["text"] and "tirsdag den 2. april" in m["text"]
    gateway.plan = [("status", 500), ("ok", {"status": "delivered"}),
                    ("status", 500), ("status", 500), ("status", 500)]
    summary = app.contact.send_sms(sleep=lambda s: None)
    assert (summary.delivered, summary.failed) == (1, 1)
    rows = {r.visit_id: r for r in app.contact.day_list(TUE).rows}
    assert rows[a].status == "delivered" and rows[a].attempts == 2
    assert rows[b].status == "failed" and rows[b].sms_error.startswith("HTTP-status 500")
    assert rows[c].status == "todo" and rows[c].channel == "phone"
    assert app.contact.not_reached(EASTER_TUE, EASTER_TUE) == {b: "failed"}
    assert gateway.received[0]["body"] == {"to": "+4520304050",
                                           "message": msgs[0]["text"]}
    # a failed one goes again when asked
    assert app.contact.retry_failed() == 1
    gateway.plan = [("ok", {"status": "accepted"})]
    assert app.contact.send_sms(sleep=lambda s: None).sent == 1
    assert {r.visit_id: r.status for r in app.contact.day_list(TUE).rows}[b] == "sent"


def test_send_without_gateway_is_refused(department_app):
    app = department_app
    with pytest.raises(ValidationError):
        app.contact.send_sms()


def test_dry_run_writes_a_safe_csv_and_sends_nothing(department_app, gateway, tmp_path,
                                                      capsys):
    app = department_app
    _sms_day(app, gateway)
    out = tmp_path / "sms.csv"
    url = str(app.store.engine.url)
    assert main(["--db", url, "contact", "sms", "--date", TUE.isoformat(), "--dry-run",
                 str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["messages"] == 2
    text = out.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "besked;henvisning;besøgsdato;telefon;tekst"
    assert ";'+4520304050;" in lines[1]  # a cell starting with + is not a formula
    assert gateway.received == []
    assert {m["status"] for m in app.contact.outbox()} == {"queued"}
    assert (out.stat().st_mode & 0o777) == 0o600


def test_two_senders_never_send_a_message_twice(department_app, gateway):
    from hjemmeprove.contact.service import ContactService

    app = department_app
    app.settings.set("contact.cancel_phone", "62 22 30 00")
    app.settings.set("sms.gateway_url", gateway.url)
    for i in range(6):
        vid = add_visit(app, EASTER_TUE, f"0{i + 1}0150-1234", f"Borger {i}")
        rid = next(r.request_id for r in app.contact.day_list(TUE).rows if r.visit_id == vid)
        app.contact.set_preference(rid, "sms", sms_consent=True, mobile=f"2030405{i}")
    assert app.contact.queue_sms(TUE) == 6
    gateway.plan = [("slow", 0.05)] * 12  # both senders are busy at once
    results, errors = [], []

    def run():
        try:
            results.append(ContactService(app.store).send_sms(sleep=lambda s: None))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    refs = [r["body"]["to"] for r in gateway.received]  # one number per message
    assert len(refs) == 6 == len(set(refs))
    assert sum(r.sent for r in results) == 6
    assert {m["status"] for m in app.contact.outbox()} == {"sent"}


def test_sms_needs_the_cancellation_number(department_app):
    app = department_app
    vid = add_visit(app, EASTER_TUE, "010150-1234", "Anna A")
    rid = next(r.request_id for r in app.contact.day_list(TUE).rows if r.visit_id == vid)
    app.contact.set_preference(rid, "sms", sms_consent=True, mobile="20304050")
    with pytest.raises(ValidationError) as e:
        app.contact.queue_sms(TUE)
    assert "Telefon for aflysning" in e.value.fields
    assert app.contact.outbox() == []


def test_a_message_for_a_visit_cancelled_after_queueing_is_not_sent(department_app, gateway):
    from hjemmeprove.db.models import Request, Visit

    app = department_app
    a, b, _c = _sms_day(app, gateway)
    assert app.contact.queue_sms(TUE) == 2
    with app.store.session() as s:
        s.get(Request, s.get(Visit, a).request_id).status = "cancelled"
    summary = app.contact.send_sms(sleep=lambda s: None)
    assert (summary.sent, summary.failed) == (1, 1)
    assert [r["body"]["to"] for r in gateway.received] == ["20304051"]  # only Bent's
    (failed,) = app.contact.outbox(("failed",))
    assert "aflyst" in failed["error"]
