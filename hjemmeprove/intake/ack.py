"""MedCom Acknowledgement ("kvittering") for a received message, and the CareCommunication
reply the department sends in a thread.

Acknowledgement (MedComAcknowledgementMessage): a message Bundle whose MessageHeader
(MedComAcknowledgementMessageHeader) has event ``acknowledgement-message``, the received
message's sender as its primary destination and the received message's receiver as sender,
and ``response`` = {identifier: the received MessageHeader.id, code: ok | fatal-error,
details: an OperationOutcome for anything but ok (medcom-acknowledgement-1)}; two Provenance
resources (the received message's own, and one with activity ``acknowledgement`` pointing to
it) and both Organizations. Keys are written in FHIR's element order (XML needs it).
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import uuid

from hjemmeprove.intake.fhir import first, items
from hjemmeprove.intake.message import (
    ACTIVITY_SYSTEM,
    CARE_COMMUNICATION_EVENT,
    CATEGORY_SYSTEM,
    CPR_SYSTEM,
    EAN_SYSTEM,
    EVENT_SYSTEM,
    EXT_AUTHOR,
    EXT_CONTACT,
    EXT_DATE,
    EXT_IDENTIFIER,
    MESSAGE_DEFINITION,
    MESSAGE_PROFILE,
    SOR_ENDPOINT,
    SOR_SYSTEM,
    CareMessage,
    Organisation,
    Problem,
)

ACK_PROFILE = "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
ACK_MESSAGE_PROFILE = ACK_PROFILE + "medcom-messaging-acknowledgement"
ACK_HEADER_PROFILE = ACK_PROFILE + "medcom-messaging-acknowledgementHeader"
ACK_OUTCOME_PROFILE = ACK_PROFILE + "medcom-acknowledgement-operationoutcome"
MESSAGING = "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
ORG_PROFILE = MESSAGING + "medcom-messaging-organization"
PROVENANCE_PROFILE = MESSAGING + "medcom-messaging-provenance"
DESTINATION_USE = MESSAGING + "medcom-messaging-destinationUseExtension"
DESTINATION_USE_SYSTEM = ("http://medcomfhir.dk/ig/terminology/CodeSystem/"
                          "medcom-messaging-destinationUse")
CC = "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/"
BASE_URL = "https://medcomfhir.dk/ig/"  # fullUrl prefix, as MedCom's examples use


def new_id() -> str:
    return str(uuid.uuid4())


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _narrative(text: str) -> dict:
    return {"status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{html.escape(text)}</p></div>'}


def _meta(profile: str) -> dict:
    return {"profile": [profile]}


def _org_resource(org: Organisation, fallback_id: str) -> dict:
    """The organisation as received (its resource, unchanged and not copied: nothing here
    changes a received resource) or rebuilt from SOR/EAN."""
    if org.resource is not None and org.resource.get("id"):
        return org.resource
    out = {"resourceType": "Organization", "id": fallback_id, "meta": _meta(ORG_PROFILE),
           "text": _narrative(org.label()), "identifier": []}
    if org.ean:
        out["identifier"].append({"system": EAN_SYSTEM, "value": org.ean})
    if org.sor:
        out["identifier"].append({"system": SOR_SYSTEM, "value": org.sor})
    if org.name:
        out["name"] = org.name
    return out


def _entry(kind: str, resource: dict, ig: str) -> dict:
    return {"fullUrl": f"{BASE_URL}{ig}/{kind}/{resource['id']}", "resource": resource}


def _endpoint(org: Organisation, given: str) -> str:
    return given or (SOR_ENDPOINT + org.sor if org.sor else "")


def build_acknowledgement(msg: CareMessage, code: str, problems: list[Problem] = (),
                          now: str | None = None) -> dict:
    """The acknowledgement of ``msg``: ``ok`` or ``fatal-error`` with an OperationOutcome that
    lists ``problems``. ``msg`` may be partly read (an invalid message); what is missing
    (sender, receiver) is left out rather than invented."""
    now = now or _now()
    # we answer as the organisation the message was addressed to, to its sender
    us = msg.receiver
    them = msg.sender
    us_res = _org_resource(us, new_id())
    them_res = _org_resource(them, new_id())
    header_id = new_id()
    header: dict = {
        "resourceType": "MessageHeader", "id": header_id, "meta": _meta(ACK_HEADER_PROFILE),
        "text": _narrative(f"Kvittering ({code}) for besked {msg.header_id}"),
        "eventCoding": {"system": EVENT_SYSTEM, "code": "acknowledgement-message"},
        "destination": [{
            "extension": [{"url": DESTINATION_USE,
                           "valueCoding": {"system": DESTINATION_USE_SYSTEM,
                                           "code": "primary"}}],
            "endpoint": _endpoint(them, msg.source_endpoint),
            "receiver": {"reference": f"Organization/{them_res['id']}"},
        }],
        "sender": {"reference": f"Organization/{us_res['id']}"},
        "source": {"endpoint": _endpoint(us, msg.destination_endpoint)},
        "response": {"identifier": msg.header_id, "code": code},
    }
    outcome = None
    if code != "ok":
        outcome = {
            "resourceType": "OperationOutcome", "id": new_id(),
            "meta": _meta(ACK_OUTCOME_PROFILE),
            "text": _narrative("; ".join(str(p) for p in problems) or code),
            "issue": [{"severity": "error", "code": p.code,
                       "details": {"text": p.message}, "expression": [p.where]}
                      for p in (problems or [Problem("Bundle", "beskeden kan ikke modtages",
                                                     "processing")])],
        }
        header["response"]["details"] = {"reference": f"OperationOutcome/{outcome['id']}"}
    entries = [_entry("MessageHeader", header, "acknowledgement")]
    received_provenance = _received_provenance(msg)
    if received_provenance is not None:
        entries.append(_entry("Provenance", received_provenance, "acknowledgement"))
    ack_provenance = {
        "resourceType": "Provenance", "id": new_id(), "meta": _meta(PROVENANCE_PROFILE),
        "text": _narrative(f"Kvittering for besked {msg.header_id}"),
        "target": [{"reference": f"MessageHeader/{header_id}"}],
        "occurredDateTime": now, "recorded": now,
        "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": "acknowledgement"}]},
        "agent": [{"who": {"reference": f"Organization/{us_res['id']}"}}],
        "entity": [{"role": "revision",
                    "what": {"reference": f"MessageHeader/{msg.header_id}"}}],
    }
    entries.append(_entry("Provenance", ack_provenance, "acknowledgement"))
    entries.append(_entry("Organization", us_res, "acknowledgement"))
    if them_res["id"] != us_res["id"]:
        entries.append(_entry("Organization", them_res, "acknowledgement"))
    if outcome is not None:
        entries.append(_entry("OperationOutcome", outcome, "acknowledgement"))
    return {"resourceType": "Bundle", "id": new_id(), "meta": _meta(ACK_MESSAGE_PROFILE),
            "type": "message", "timestamp": now, "entry": entries}


def _received_provenance(msg: CareMessage) -> dict | None:
    for e in items(msg.resource.get("entry")):
        r = e.get("resource") if isinstance(e, dict) else None
        if not isinstance(r, dict) or r.get("resourceType") != "Provenance":
            continue
        target = first(r.get("target"))
        ref = (target or {}).get("reference", "") if isinstance(target, dict) else ""
        if msg.header_id and ref.endswith(f"MessageHeader/{msg.header_id}"):
            return r  # as received, not copied (never changed)
    return None


# --- a reply in a thread ------------------------------------------------------------------


def build_reply(last: CareMessage, text: str, author: str, role: str, phone: str,
                now: dt.datetime | None = None) -> tuple[dict, str, str]:
    """A CareCommunication reply to ``last`` (the thread's newest message from the
    municipality): same Communication.identifier, category and topic, earlier segments
    quoted, the new segment first. Returns (bundle, MessageHeader.id, the new segment id)."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    when = stamp.isoformat()
    us, them = last.receiver, last.sender
    us_res, them_res = _org_resource(us, new_id()), _org_resource(them, new_id())
    practitioner = {"resourceType": "Practitioner", "id": new_id(),
                    "meta": _meta("http://medcomfhir.dk/ig/core/StructureDefinition/"
                                  "medcom-core-practitioner"),
                    "text": _narrative(author), "name": [{"text": author}]}
    practitioner_role = {"resourceType": "PractitionerRole", "id": new_id(),
                         "meta": _meta("http://medcomfhir.dk/ig/core/StructureDefinition/"
                                       "medcom-core-practitionerrole"),
                         "text": _narrative(role),
                         "practitioner": {"reference": f"Practitioner/{practitioner['id']}"},
                         "organization": {"reference": f"Organization/{us_res['id']}"},
                         "code": [{"text": role}]}
    patient = _patient_resource(last)
    segment_id = f"urn:uuid:{new_id()}"
    payloads = [{
        "extension": [
            {"url": EXT_DATE, "valueDateTime": when},
            {"url": EXT_IDENTIFIER, "valueIdentifier": {
                "value": segment_id, "assigner": {"reference": f"Organization/{us_res['id']}"}}},
            {"url": EXT_AUTHOR, "valueReference": {
                "reference": f"PractitionerRole/{practitioner_role['id']}"}},
            {"url": EXT_CONTACT, "valueContactPoint": {"system": "phone", "value": phone}},
        ],
        "contentString": text,
    }]
    extra: list[dict] = []
    comm_in = _resource_of(last, "Communication")
    if comm_in is not None:  # quote the earlier segments, with what they point to
        for payload in items(comm_in.get("payload")):
            payloads.append(copy.deepcopy(payload))
        for e in items(last.resource.get("entry")):
            r = e.get("resource") if isinstance(e, dict) else None
            if isinstance(r, dict) and r.get("resourceType") in ("PractitionerRole",
                                                                  "Practitioner", "CareTeam"):
                extra.append(copy.deepcopy(r))
    comm = {"resourceType": "Communication", "id": new_id(), "meta": _meta(
        CC + "medcom-careCommunication-communication"),
        "text": _narrative(text),
        "identifier": [{"value": last.thread}], "status": "unknown",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": last.category}]}],
        "subject": {"reference": f"Patient/{patient['id']}"}}
    if last.topic:
        comm["topic"] = {"text": last.topic}
    comm["payload"] = payloads
    header_id = new_id()
    header = {
        "resourceType": "MessageHeader", "id": header_id,
        "meta": _meta(CC + "medcom-careCommunication-messageHeader"),
        "text": _narrative("Svar på korrespondancemeddelelse"),
        "eventCoding": {"system": EVENT_SYSTEM, "code": CARE_COMMUNICATION_EVENT},
        "destination": [{
            "extension": [{"url": DESTINATION_USE, "valueCoding": {
                "system": DESTINATION_USE_SYSTEM, "code": "primary"}}],
            "endpoint": _endpoint(them, last.source_endpoint),
            "receiver": {"reference": f"Organization/{them_res['id']}"}}],
        "sender": {"reference": f"Organization/{us_res['id']}"},
        "source": {"endpoint": _endpoint(us, last.destination_endpoint)},
        "focus": [{"reference": f"Communication/{comm['id']}"}],
        "definition": MESSAGE_DEFINITION + "|5.0",
    }
    provenance = {
        "resourceType": "Provenance", "id": new_id(),
        "meta": _meta(CC + "medcom-careCommunication-provenance"),
        "text": _narrative("Svar"),
        "target": [{"reference": f"MessageHeader/{header_id}"}],
        "occurredDateTime": when, "recorded": when,
        "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": "reply-message"}]},
        "agent": [{"who": {"reference": f"Organization/{us_res['id']}"}}],
        "entity": [{"role": "source", "what": {"identifier": {"value": segment_id}}},
                   {"role": "revision", "what": {"reference": f"MessageHeader/{last.header_id}"}}],
    }
    entries = [_entry("MessageHeader", header, "carecommunication"),
               _entry("Patient", patient, "carecommunication"),
               _entry("Communication", comm, "carecommunication"),
               _entry("PractitionerRole", practitioner_role, "carecommunication"),
               _entry("Practitioner", practitioner, "carecommunication")]
    seen = {practitioner_role["id"], practitioner["id"]}
    for r in extra:
        if r.get("id") not in seen:
            seen.add(r.get("id"))
            entries.append(_entry(r["resourceType"], r, "carecommunication"))
    entries.append(_entry("Organization", us_res, "carecommunication"))
    if them_res["id"] != us_res["id"]:
        entries.append(_entry("Organization", them_res, "carecommunication"))
    # the preceding messages' provenance travels with the thread
    for e in items(last.resource.get("entry")):
        r = e.get("resource") if isinstance(e, dict) else None
        if isinstance(r, dict) and r.get("resourceType") == "Provenance":
            entries.append(_entry("Provenance", copy.deepcopy(r), "carecommunication"))
    entries.append(_entry("Provenance", provenance, "carecommunication"))
    bundle = {"resourceType": "Bundle", "id": new_id(), "meta": _meta(MESSAGE_PROFILE),
              "type": "message", "timestamp": when, "entry": entries}
    return bundle, header_id, segment_id


def _resource_of(msg: CareMessage, kind: str) -> dict | None:
    for e in items(msg.resource.get("entry")):
        r = e.get("resource") if isinstance(e, dict) else None
        if isinstance(r, dict) and r.get("resourceType") == kind:
            return r
    return None


def _patient_resource(last: CareMessage) -> dict:
    received = _resource_of(last, "Patient")
    if received is not None:
        return copy.deepcopy(received)
    p = last.patient
    out = {"resourceType": "Patient", "id": new_id(), "identifier": []}
    if p.cpr:
        out["identifier"].append({"system": CPR_SYSTEM, "value": p.cpr.replace("-", "")})
    return out


# --- a new message (for demo data, tests and the benchmark) --------------------------------


def build_new_message(text: str, cpr: str, name: str, sender_sor: str, sender_ean: str,
                      receiver_sor: str, receiver_ean: str, when: dt.datetime,
                      category: str = "regarding-referral", topic: str = "Blodprøve i hjemmet",
                      sender_name: str = "", receiver_name: str = "", author: str = "Visitator",
                      address: tuple[str, str, str] | None = None,
                      thread: str | None = None) -> dict:
    """A new CareCommunication as a municipality's system sends it."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    stamp = when.isoformat()
    them = Organisation(sor=sender_sor, ean=sender_ean, name=sender_name)
    us = Organisation(sor=receiver_sor, ean=receiver_ean, name=receiver_name)
    them_res, us_res = _org_resource(them, new_id()), _org_resource(us, new_id())
    given, _, family = name.rpartition(" ")
    patient = {"resourceType": "Patient", "id": new_id(),
               "meta": _meta("http://medcomfhir.dk/ig/core/StructureDefinition/"
                             "medcom-core-patient"),
               "text": _narrative(name),
               "identifier": [{"system": CPR_SYSTEM, "value": cpr.replace("-", "")}],
               "name": [{"use": "official", "family": family or name,
                         **({"given": given.split()} if given else {})}]}
    if address:
        patient["address"] = [{"line": [address[0]], "city": address[2],
                               "postalCode": address[1]}]
    practitioner = {"resourceType": "Practitioner", "id": new_id(), "name": [{"text": author}]}
    role = {"resourceType": "PractitionerRole", "id": new_id(),
            "practitioner": {"reference": f"Practitioner/{practitioner['id']}"},
            "code": [{"text": "Sygeplejerske"}]}
    segment_id = f"urn:uuid:{new_id()}"
    comm = {"resourceType": "Communication", "id": new_id(),
            "meta": _meta(CC + "medcom-careCommunication-communication"),
            "text": _narrative(text),
            "identifier": [{"value": thread or f"urn:uuid:{new_id()}"}], "status": "unknown",
            "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}],
            "subject": {"reference": f"Patient/{patient['id']}"},
            "topic": {"text": topic},
            "payload": [{"extension": [
                {"url": EXT_DATE, "valueDateTime": stamp},
                {"url": EXT_IDENTIFIER, "valueIdentifier": {
                    "value": segment_id,
                    "assigner": {"reference": f"Organization/{them_res['id']}"}}},
                {"url": EXT_AUTHOR, "valueReference": {
                    "reference": f"PractitionerRole/{role['id']}"}},
                {"url": EXT_CONTACT, "valueContactPoint": {"system": "phone",
                                                           "value": "12345678"}}],
                "contentString": text}]}
    header_id = new_id()
    header = {
        "resourceType": "MessageHeader", "id": header_id,
        "meta": _meta(CC + "medcom-careCommunication-messageHeader"),
        "text": _narrative("Korrespondancemeddelelse"),
        "eventCoding": {"system": EVENT_SYSTEM, "code": CARE_COMMUNICATION_EVENT},
        "destination": [{
            "extension": [{"url": DESTINATION_USE, "valueCoding": {
                "system": DESTINATION_USE_SYSTEM, "code": "primary"}}],
            "endpoint": SOR_ENDPOINT + receiver_sor,
            "receiver": {"reference": f"Organization/{us_res['id']}"}}],
        "sender": {"reference": f"Organization/{them_res['id']}"},
        "source": {"endpoint": SOR_ENDPOINT + sender_sor},
        "focus": [{"reference": f"Communication/{comm['id']}"}],
        "definition": MESSAGE_DEFINITION + "|5.0",
    }
    provenance = {
        "resourceType": "Provenance", "id": new_id(),
        "meta": _meta(CC + "medcom-careCommunication-provenance"),
        "target": [{"reference": f"MessageHeader/{header_id}"}],
        "occurredDateTime": stamp, "recorded": stamp,
        "activity": {"coding": [{"system": ACTIVITY_SYSTEM, "code": "new-message"}]},
        "agent": [{"who": {"reference": f"Organization/{them_res['id']}"}}],
        "entity": [{"role": "source", "what": {"identifier": {"value": segment_id}}}]}
    entries = [_entry("MessageHeader", header, "carecommunication"),
               _entry("Patient", patient, "carecommunication"),
               _entry("Communication", comm, "carecommunication"),
               _entry("PractitionerRole", role, "carecommunication"),
               _entry("Practitioner", practitioner, "carecommunication"),
               _entry("Organization", them_res, "carecommunication"),
               _entry("Organization", us_res, "carecommunication"),
               _entry("Provenance", provenance, "carecommunication")]
    return {"resourceType": "Bundle", "id": new_id(), "meta": _meta(MESSAGE_PROFILE),
            "type": "message", "timestamp": stamp, "entry": entries}
