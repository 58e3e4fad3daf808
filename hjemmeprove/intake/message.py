"""A MedCom CareCommunication bundle: its parsed fields, and what the test protocol and the
profiles require of it before it may be shown (``validate``).

The checks are the profiles' cardinalities and invariants that matter to a receiver
(MedComCareCommunicationMessage, -MessageHeader, -Communication, -Provenance and
MedComCorePatient), written out by hand: no FHIR validator runs here. Each problem names the
FHIR element, so the fatal-error acknowledgement tells the sender what to correct.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hjemmeprove.domain.labels import CARE_COMMUNICATION_CATEGORY
from hjemmeprove.intake.fhir import first, items

DANISH_TIME = ZoneInfo("Europe/Copenhagen")

PROFILE_BASE = "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/"
MESSAGE_PROFILE = PROFILE_BASE + "medcom-careCommunication-message"
EVENT_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes"
CARE_COMMUNICATION_EVENT = "care-communication-message"
ACKNOWLEDGEMENT_EVENT = "acknowledgement-message"
MESSAGE_DEFINITION = ("http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/"
                      "MedComCareCommunicationMessageDefinition")
CATEGORY_SYSTEM = ("http://medcomfhir.dk/ig/terminology/CodeSystem/"
                   "medcom-careCommunication-categoryCodes")
ACTIVITY_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
EAN_SYSTEM = "https://www.gs1.org/gln"
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
REPLACEMENT_CPR_PREFIX = "urn:oid:1.2.208.176.1.6"
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="
EXT = "http://medcomfhir.dk/ig/core/StructureDefinition/"
EXT_DATE = EXT + "medcom-core-datetime-extension"
EXT_IDENTIFIER = EXT + "medcom-core-identifier-extension"
EXT_AUTHOR = EXT + "medcom-core-practitioner-extension"
EXT_CONTACT = EXT + "medcom-core-contact-extension"
ACTIVITIES = ("new-message", "reply-message", "forward-message")
PRIORITIES = ("asap", "routine", "urgent", "stat")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle: the FHIR element, what is wrong (Danish) and the FHIR
    issue type (``OperationOutcome.issue.code``)."""

    where: str
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class Organisation:
    reference: str = ""
    sor: str = ""
    ean: str = ""
    name: str = ""
    resource: dict | None = None

    def label(self) -> str:
        return self.name or (f"SOR {self.sor}" if self.sor else f"EAN {self.ean}" if self.ean
                             else "ukendt organisation")


@dataclass
class Segment:
    identifier: str
    at: dt.datetime  # UTC, naive
    kind: str  # text | attachment
    text: str = ""
    author: str = ""
    author_role: str = ""
    author_phone: str = ""
    organisation: str = ""
    title: str = ""
    content_type: str = ""
    url: str = ""
    assigner_sor: str = ""  # the organisation that wrote the segment


@dataclass
class Patient:
    cpr: str = ""  # DDMMYY-SSSS
    other_ids: list[str] = field(default_factory=list)  # "system|value" of replacement CPRs
    name: str = ""
    address: str = ""
    postcode: str = ""
    city: str = ""
    phone: str = ""

    @property
    def key(self) -> str:
        if self.cpr:
            return self.cpr
        return self.other_ids[0].rsplit("|", 1)[-1] if self.other_ids else ""


@dataclass
class CareMessage:
    """The fields the inbox keeps from one bundle (whatever could be read of them)."""

    format: str
    resource: dict
    bundle_id: str = ""
    timestamp: dt.datetime | None = None  # UTC, naive
    header_id: str = ""
    event: str = ""
    sender: Organisation = field(default_factory=Organisation)
    receiver: Organisation = field(default_factory=Organisation)
    source_endpoint: str = ""
    destination_endpoint: str = ""
    thread: str = ""  # Communication.identifier
    category: str = ""
    priority: str = ""
    topic: str = ""
    episode_of_care: str = ""
    patient: Patient = field(default_factory=Patient)
    segments: list[Segment] = field(default_factory=list)
    activity: str = ""
    previous_header_id: str = ""
    initiator_sor: str = ""  # who started the thread (the new-message Provenance's agent)
    response_code: str = ""  # acknowledgements: MessageHeader.response.code
    response_to: str = ""  # acknowledgements: MessageHeader.response.identifier
    problems: list[Problem] = field(default_factory=list)

    @property
    def is_acknowledgement(self) -> bool:
        return self.event == ACKNOWLEDGEMENT_EVENT

    @property
    def valid(self) -> bool:
        return not self.problems


def parse_datetime(text: str | None) -> dt.datetime | None:
    """A FHIR dateTime/instant as naive UTC; without a zone it is Danish local time."""
    if not text or not isinstance(text, str):
        return None
    t = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            value = dt.datetime.combine(dt.date.fromisoformat(t), dt.time())
        else:
            value = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=DANISH_TIME)
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def local_time(utc: dt.datetime | None) -> dt.datetime | None:
    """Naive UTC as naive Danish local time (for display and for the received date)."""
    if utc is None:
        return None
    return utc.replace(tzinfo=dt.timezone.utc).astimezone(DANISH_TIME).replace(tzinfo=None)


def _ref_key(ref: str) -> str:
    """'Organization/abc' and 'https://.../Organization/abc' both as 'Organization/abc'."""
    parts = (ref or "").rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else ref


def _ext(obj: dict, url: str):
    for e in items(obj.get("extension")):
        if isinstance(e, dict) and e.get("url") == url:
            return e
    return None


def _name(resource: dict | None) -> str:
    if not resource:
        return ""
    names = items(resource.get("name"))
    official = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"),
                    first(names))
    if isinstance(official, str):
        return official
    if not isinstance(official, dict):
        return ""
    if official.get("text"):
        return str(official["text"])
    given = " ".join(str(g) for g in items(official.get("given")) if isinstance(g, str))
    family = official.get("family") if isinstance(official.get("family"), str) else ""
    return " ".join(p for p in (given, family) if p)


def format_cpr(value: str) -> str:
    digits = re.sub(r"\D", "", value or "")
    return f"{digits[:6]}-{digits[6:]}" if len(digits) == 10 else ""


def read_message(resource: dict, fmt: str) -> CareMessage:
    """Parses and validates a bundle; every problem found is in ``problems``."""
    msg = CareMessage(format=fmt, resource=resource)
    p = msg.problems

    def problem(where, message, code="invalid"):
        p.append(Problem(where, message, code))

    if resource.get("resourceType") != "Bundle":
        problem("Bundle", f"ressourcen er {resource.get('resourceType')!r}, ikke en Bundle",
                "structure")
        return msg
    msg.bundle_id = str(resource.get("id") or "")
    if not msg.bundle_id:
        problem("Bundle.id", "mangler", "required")
    if resource.get("type") != "message":
        problem("Bundle.type", f"skal være 'message', er {resource.get('type')!r}")
    msg.timestamp = parse_datetime(resource.get("timestamp"))
    if msg.timestamp is None:
        problem("Bundle.timestamp", "mangler eller er ikke et tidspunkt", "required")

    index: dict[str, dict] = {}
    entries = items(resource.get("entry"))
    for e in entries:
        r = e.get("resource") if isinstance(e, dict) else None
        if not isinstance(r, dict):
            continue
        rid = str(r.get("id") or "")
        if rid:
            index[f"{r.get('resourceType')}/{rid}"] = r
        if e.get("fullUrl"):
            index.setdefault(_ref_key(str(e["fullUrl"])), r)

    def resolve(ref_obj) -> dict | None:
        ref = ref_obj.get("reference") if isinstance(ref_obj, dict) else None
        return index.get(_ref_key(ref)) if ref else None

    header = entries[0].get("resource") if entries and isinstance(entries[0], dict) else None
    if not isinstance(header, dict) or header.get("resourceType") != "MessageHeader":
        problem("Bundle.entry[0]", "første ressource skal være en MessageHeader", "structure")
        return msg
    msg.header_id = str(header.get("id") or "")
    if not msg.header_id:
        problem("MessageHeader.id", "mangler", "required")
    coding = header.get("eventCoding") or {}
    msg.event = str(coding.get("code") or "")
    if msg.event == ACKNOWLEDGEMENT_EVENT:
        response = header.get("response") or {}
        msg.response_code = str(response.get("code") or "")
        msg.response_to = str(response.get("identifier") or "")
        msg.sender = _organisation(resolve(header.get("sender")), header.get("sender"))
        return msg
    profiles = [str(x) for x in items((resource.get("meta") or {}).get("profile"))]
    if MESSAGE_PROFILE not in [x.split("|")[0] for x in profiles]:
        problem("Bundle.meta.profile", "skal være " + MESSAGE_PROFILE
                + (f", er {', '.join(profiles)}" if profiles else " (mangler)"), "not-supported")
    if msg.event != CARE_COMMUNICATION_EVENT:
        problem("MessageHeader.eventCoding", f"'{msg.event}' er ikke {CARE_COMMUNICATION_EVENT}",
                "not-supported")
    definition = str(header.get("definition") or "")
    if definition and not definition.startswith(MESSAGE_DEFINITION):
        problem("MessageHeader.definition", f"'{definition}' er ikke en definition af "
                "CareCommunication", "not-supported")

    sender = resolve(header.get("sender"))
    msg.sender = _organisation(sender, header.get("sender"))
    if sender is None or sender.get("resourceType") != "Organization":
        problem("MessageHeader.sender", "skal pege på en Organization i beskeden", "required")
    elif not (msg.sender.sor or msg.sender.ean):
        problem("MessageHeader.sender", "afsenderen har hverken SOR- eller EAN-nummer",
                "required")
    msg.source_endpoint = str((header.get("source") or {}).get("endpoint") or "")
    if not msg.source_endpoint:
        problem("MessageHeader.source.endpoint", "mangler", "required")
    destination = first(header.get("destination"))
    if not isinstance(destination, dict):
        problem("MessageHeader.destination", "mangler", "required")
    else:
        msg.destination_endpoint = str(destination.get("endpoint") or "")
        receiver = resolve(destination.get("receiver"))
        msg.receiver = _organisation(receiver, destination.get("receiver"))
        if receiver is None:
            problem("MessageHeader.destination.receiver", "skal pege på en Organization i "
                    "beskeden", "required")

    comm = resolve(first(header.get("focus")))
    if comm is None or comm.get("resourceType") != "Communication":
        problem("MessageHeader.focus", "skal pege på en Communication i beskeden", "required")
        return msg
    _read_communication(msg, comm, resolve, problem)
    _read_provenance(msg, index, problem)
    for r in index.values():  # the thread's initiator, for ordering segments of equal time
        if r.get("resourceType") == "Provenance":
            coding = first((r.get("activity") or {}).get("coding"))
            if isinstance(coding, dict) and coding.get("code") == "new-message":
                agent = first(r.get("agent"))
                who = index.get(_ref_key(((agent or {}).get("who") or {}).get("reference", "")))
                msg.initiator_sor = _organisation(who, None).sor if who else ""
    return msg


def _organisation(resource: dict | None, ref_obj) -> Organisation:
    org = Organisation(reference=(ref_obj or {}).get("reference", "") if isinstance(
        ref_obj, dict) else "", resource=resource)
    if not resource:
        return org
    for ident in items(resource.get("identifier")):
        if not isinstance(ident, dict):
            continue
        if ident.get("system") == SOR_SYSTEM:
            org.sor = str(ident.get("value") or "")
        elif ident.get("system") == EAN_SYSTEM:
            org.ean = str(ident.get("value") or "")
    name = resource.get("name")
    org.name = str(first(name) or "") if name is not None else ""
    return org


def _read_communication(msg: CareMessage, comm: dict, resolve, problem) -> None:
    ident = first(comm.get("identifier"))
    msg.thread = str((ident or {}).get("value") or "") if isinstance(ident, dict) else ""
    if not msg.thread:
        problem("Communication.identifier", "mangler (trådens id)", "required")
    elif len(msg.thread) > 100:
        problem("Communication.identifier", "er længere end 100 tegn")
    category = first(comm.get("category"))
    coding = first((category or {}).get("coding")) if isinstance(category, dict) else None
    code = str((coding or {}).get("code") or "") if isinstance(coding, dict) else ""
    system = str((coding or {}).get("system") or "") if isinstance(coding, dict) else ""
    if not code:
        problem("Communication.category", "mangler (en kategori fra MedComs liste skal "
                "angives)", "required")
    elif system != CATEGORY_SYSTEM or code not in CARE_COMMUNICATION_CATEGORY:
        problem("Communication.category", f"'{code}' ({system or 'intet system'}) er ikke en "
                "kategori fra " + CATEGORY_SYSTEM, "code-invalid")
    msg.category = code
    msg.priority = str(comm.get("priority") or "")
    if msg.priority and code != "regarding-referral":
        problem("Communication.priority", "må kun angives ved kategorien 'regarding-referral' "
                "(medcom-careCommunication-5)")
    elif msg.priority and msg.priority not in PRIORITIES:
        problem("Communication.priority", f"'{msg.priority}' er ikke en gyldig prioritet",
                "code-invalid")
    topic = comm.get("topic")
    msg.topic = str((topic or {}).get("text") or "") if isinstance(topic, dict) else ""
    if code == "other" and not msg.topic:
        problem("Communication.topic", "skal angives ved kategorien 'other' "
                "(medcom-careCommunication-6)", "required")

    patient = resolve(comm.get("subject"))
    if patient is None or patient.get("resourceType") != "Patient":
        problem("Communication.subject", "skal pege på en Patient i beskeden", "required")
    else:
        msg.patient = _patient(patient, problem)

    encounter = resolve(comm.get("encounter"))
    if encounter is not None:
        for eoc in items(encounter.get("episodeOfCare")):
            value = (eoc.get("identifier") or {}).get("value") if isinstance(eoc, dict) else ""
            if value:
                msg.episode_of_care = str(value)
        if not msg.episode_of_care:
            problem("Encounter.episodeOfCare", "et episodeOfCare-id skal angives, når der er en "
                    "Encounter (medcom-careCommunication-9)", "required")

    payloads = items(comm.get("payload"))
    if not payloads:
        problem("Communication.payload", "mangler (mindst ét beskedsegment)", "required")
    texts = 0
    for n, payload in enumerate(payloads):
        where = f"Communication.payload[{n}]"
        if not isinstance(payload, dict):
            problem(where, "er ikke et beskedsegment", "structure")
            continue
        seg = _segment(payload, resolve, where, problem)
        if seg is not None:
            msg.segments.append(seg)
            texts += seg.kind == "text"
    if payloads and not texts:
        problem("Communication.payload", "der skal være mindst ét segment med beskedtekst "
                "(payload.contentString)", "required")


def _segment(payload: dict, resolve, where: str, problem) -> Segment | None:
    ident_ext = _ext(payload, EXT_IDENTIFIER)
    identifier = str(((ident_ext or {}).get("valueIdentifier") or {}).get("value") or "")
    date_ext = _ext(payload, EXT_DATE)
    at = parse_datetime((date_ext or {}).get("valueDateTime"))
    author_ext = _ext(payload, EXT_AUTHOR)
    contact_ext = _ext(payload, EXT_CONTACT)
    text = payload.get("contentString")
    attachment = payload.get("contentAttachment")
    ok = True
    if not identifier:
        problem(where, "segmentets id (medcom-core-identifier-extension) mangler", "required")
        ok = False
    if at is None:
        problem(where, "segmentets tidspunkt (medcom-core-datetime-extension) mangler",
                "required")
        ok = False
    if isinstance(text, str):
        kind = "text"
        if not text.strip():
            problem(where + ".contentString", "beskedteksten er tom", "required")
        if author_ext is None:
            problem(where, "forfatter (medcom-core-practitioner-extension) mangler", "required")
        if contact_ext is None:
            problem(where, "forfatterens telefon (medcom-core-contact-extension) mangler",
                    "required")
    elif isinstance(attachment, dict):
        kind = "attachment"
        if not attachment.get("title"):
            problem(where + ".contentAttachment.title", "mangler", "required")
    else:
        problem(where, "hverken tekst (contentString) eller bilag (contentAttachment)",
                "required")
        return None
    if not ok:
        return None
    seg = Segment(identifier=identifier, at=at, kind=kind)
    if kind == "text":
        seg.text = text
    else:
        seg.title = str(attachment.get("title") or "")
        seg.content_type = str(attachment.get("contentType") or "")
        seg.url = str(attachment.get("url") or "")
    if author_ext is not None:
        role = resolve(author_ext.get("valueReference"))
        if role is not None and role.get("resourceType") == "PractitionerRole":
            code = first(role.get("code"))
            if isinstance(code, dict):
                coding = first(code.get("coding"))
                seg.author_role = str(code.get("text") or (coding or {}).get("code") or "")
            seg.author = _name(resolve(role.get("practitioner")))
            org = resolve(role.get("organization"))
            if org is not None:
                seg.organisation = _organisation(org, None).label()
        elif role is not None:
            seg.author = _name(role)
    if contact_ext is not None:
        seg.author_phone = str((contact_ext.get("valueContactPoint") or {}).get("value") or "")
    assigner = resolve(((ident_ext or {}).get("valueIdentifier") or {}).get("assigner"))
    if assigner is not None:
        org = _organisation(assigner, None)
        seg.assigner_sor = org.sor
        if not seg.organisation:
            seg.organisation = org.label()
    return seg


def _patient(resource: dict, problem) -> Patient:
    patient = Patient(name=_name(resource))
    for ident in items(resource.get("identifier")):
        if not isinstance(ident, dict):
            continue
        system, value = str(ident.get("system") or ""), str(ident.get("value") or "")
        if system == CPR_SYSTEM:
            patient.cpr = format_cpr(value)
            if not patient.cpr:
                problem("Patient.identifier", f"'{value}' er ikke et CPR-nummer på 10 cifre")
        elif value:
            patient.other_ids.append(f"{system}|{value}")
    if not patient.cpr and not patient.other_ids:
        problem("Patient.identifier", "borgeren har hverken CPR- eller erstatnings-CPR-nummer",
                "required")
    address = first(resource.get("address"))
    if isinstance(address, dict):
        patient.address = ", ".join(str(x) for x in items(address.get("line")))
        patient.postcode = str(address.get("postalCode") or "")
        patient.city = str(address.get("city") or "")
    for tel in items(resource.get("telecom")):
        if isinstance(tel, dict) and tel.get("system") == "phone" and tel.get("value"):
            patient.phone = str(tel["value"])
            break
    return patient


def _read_provenance(msg: CareMessage, index: dict, problem) -> None:
    ours = None
    for key, r in index.items():
        if r.get("resourceType") != "Provenance":
            continue
        target = first(r.get("target"))
        ref = _ref_key((target or {}).get("reference", "")) if isinstance(target, dict) else ""
        if ref == f"MessageHeader/{msg.header_id}":
            ours = r
    if ours is None:
        problem("Provenance", "der er ingen Provenance for denne MessageHeader", "required")
        return
    coding = first((ours.get("activity") or {}).get("coding"))
    msg.activity = str((coding or {}).get("code") or "") if isinstance(coding, dict) else ""
    if msg.activity not in ACTIVITIES:
        problem("Provenance.activity", f"'{msg.activity}' er ikke en af "
                + ", ".join(ACTIVITIES), "code-invalid")
    payload_ids = {s.identifier for s in msg.segments}
    for entity in items(ours.get("entity")):
        if not isinstance(entity, dict):
            continue
        what = entity.get("what") or {}
        if "identifier" in what:
            value = str((first(what.get("identifier")) or {}).get("value") or "")
            if value not in payload_ids:
                problem("Provenance.entity", f"'{value}' er ikke id på et beskedsegment i "
                        "denne Communication", "invalid")
        elif entity.get("role") == "revision" and what.get("reference"):
            msg.previous_header_id = _ref_key(what["reference"]).split("/")[-1]
    if msg.activity in ("reply-message", "forward-message") and not msg.previous_header_id:
        problem("Provenance.entity", "et svar eller en videresendelse skal pege på den "
                "forrige besked (role = revision)", "required")
