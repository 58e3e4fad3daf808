"""The codes the program stores, and their Danish labels: one table for services, documents
and views. A code never reaches a user; its label does.

Codes are English and stable (they are in the database and in ``--json`` output); labels are
Danish and may be reworded here, once, for every screen and document.
"""

from __future__ import annotations

# A request's status (its life cycle is decided in ``domain/lifecycle.py``).
REQUEST_STATUSES = ("open", "planned", "locked", "done", "cancelled", "not_eligible")
ACTIVE_STATUSES = ("open", "planned", "locked")  # "Aktive": not yet done, cancelled or refused
STATUS = {
    "open": "Åben",
    "planned": "Planlagt",
    "locked": "Låst",
    "done": "Udført",
    "cancelled": "Aflyst",
    "not_eligible": "Ikke omfattet",
}

# A visit's outcome, recorded at day close (domain rule 7).
OUTCOMES = ("taken", "not_home", "refused", "cancelled_late")
DRIVEN_OUTCOMES = ("taken", "not_home", "refused")  # the bioanalyst drove there
OUTCOME = {
    "taken": "Taget",
    "not_home": "Ikke hjemme",
    "refused": "Afvist/ikke muligt",
    "cancelled_late": "Sent aflyst",
}
MISSING = "—"

# How a cancellation reached the department (domain rule 5).
CANCEL_CHANNELS = ("electronic", "telephone")
CHANNEL = {"electronic": "Elektronisk", "telephone": "Telefonisk"}

# Where distances come from.
DISTANCE_SOURCES = ("estimate", "osrm", "valhalla")
DISTANCE_SOURCE = {
    "estimate": "Indbygget skøn (offline)",
    "osrm": "OSRM (egen server)",
    "valhalla": "Valhalla (egen server)",
}

# How a route's km are allocated to its visits (an agreement's billing choice).
ALLOCATION_RULES = ("standalone", "equal")
ALLOCATION_RULE = {"standalone": "Efter enkeltturens længde", "equal": "Ligelig fordeling"}


def status_label(code: str | None) -> str:
    return STATUS.get(code or "", code or MISSING)


def outcome_label(code: str | None) -> str:
    return OUTCOME.get(code or "", MISSING if not code else code)


def channel_label(code: str | None) -> str:
    return CHANNEL.get(code or "", code or MISSING)


def distance_source_label(code: str | None) -> str:
    return DISTANCE_SOURCE.get(code or "", code or MISSING)


def allocation_rule_label(code: str | None) -> str:
    return ALLOCATION_RULE.get(code or "", code or MISSING)

# Which personal data a statement line shows (an agreement's choice; minimal by default).
PERSONAL_DATA_LEVELS = ("referral", "name", "name_cpr")
PERSONAL_DATA = {
    "referral": "Kun henvisningsnummer",
    "name": "Henvisningsnummer og navn",
    "name_cpr": "Henvisningsnummer, navn og CPR-nummer",
}


def personal_data_label(code: str | None) -> str:
    return PERSONAL_DATA.get(code or "", code or MISSING)


# Electronic intake (MedCom CareCommunication): the national category codes, the message's
# activity and what the inbox did with a file.
CARE_COMMUNICATION_CATEGORY = {
    "alcohol-and-drug-treatment": "Rusmiddelbehandling",
    "assessment": "Vurdering",
    "assistive-devices": "Hjælpemidler",
    "carecoordination": "Forløbskoordinering",
    "decease": "Dødsfald",
    "discharge": "Udskrivelse",
    "drug-treatment": "Rusmiddelbehandling",
    "examination-results": "Undersøgelsessvar",
    "extended-care-responsibility": "Udvidet behandlingsansvar",
    "healthcare": "Sundhedspleje",
    "home-care-assessment": "Visitation",
    "medicine": "Medicin",
    "nursing": "Sygepleje",
    "other": "Andet",
    "outpatient": "Ambulant",
    "psychiatry-social-disability": "Psykiatri, social, handicap",
    "regarding-referral": "Vedr. henvisning",
    "telemedicine": "Telemedicin",
    "training": "Træning",
}
MESSAGE_ACTIVITY = {"new-message": "Ny", "reply-message": "Svar", "forward-message": "Videresendt"}
PRIORITY = {"asap": "Haster", "routine": "Rutine"}
INTAKE_OUTCOME = {
    "ok": "Modtaget",
    "duplicate": "Dublet (kvitteret igen)",
    "fatal-error": "Afvist",
    "acknowledgement": "Kvittering modtaget",
    "sent": "Sendt",
}


# What a received message became (``intake_messages.handled``).
MESSAGE_HANDLED = {"request": "Henvisning", "cancellation": "Aflysning", "dismissed": "Afvist"}


def handled_label(code: str | None) -> str:
    return MESSAGE_HANDLED.get(code or "", code or MISSING)


def category_label(code: str | None) -> str:
    return CARE_COMMUNICATION_CATEGORY.get(code or "", code or MISSING)


def activity_label(code: str | None) -> str:
    return MESSAGE_ACTIVITY.get(code or "", code or MISSING)


def intake_outcome_label(code: str | None) -> str:
    return INTAKE_OUTCOME.get(code or "", code or MISSING)


# Reminding the citizen before a visit (hjemmeprove/contact): channels and statuses.
REMINDER_CHANNELS = ("letter", "sms", "phone")
REMINDER_CHANNEL = {"letter": "Brev", "sms": "SMS", "phone": "Opringning"}
PREFERENCE_CHANNEL = {"": "Afdelingens standard", **REMINDER_CHANNEL,
                      "none": "Ønsker ingen påmindelse"}
REMINDER_STATUSES = ("todo", "sent", "delivered", "failed", "reached", "not_reached")
REMINDER_STATUS = {
    "todo": "Mangler",
    "sent": "Sendt",
    "delivered": "Leveret",
    "failed": "Fejlet",
    "reached": "Talt med",
    "not_reached": "Ikke nået",
}


def reminder_channel_label(code: str | None) -> str:
    return PREFERENCE_CHANNEL.get(code or "", code or MISSING)


def reminder_status_label(code: str | None) -> str:
    return REMINDER_STATUS.get(code or "", code or MISSING)


# An invoice's kind and status (``invoices.kind``, ``invoices.status``).
INVOICE_KIND = {"invoice": "Faktura", "credit_note": "Kreditnota"}
INVOICE_STATUS = {"draft": "Kladde", "issued": "Udstedt"}


# The audit trail (request history): what was changed, and each stored field by the name the
# user sees on screen (the form's labels), never the column's name.
AUDIT_TABLE = {"requests": "Henvisning", "cancellations": "Aflysning", "visits": "Besøg"}
AUDIT_ACTION = {"insert": "oprettet", "update": "ændret", "delete": "slettet"}
AUDIT_FIELD = {
    "requests": {
        "status": "Status", "received": "Modtaget", "deadline": "Frist",
        "earliest": "Tidligst dato", "window_start": "Tidligst kl.",
        "window_end": "Senest kl.", "address": "Prøveadresse", "postcode": "Prøvepostnr.",
        "city": "Prøveby", "lat": "Position, bredde", "lon": "Position, længde",
        "position_quality": "Positionens kvalitet", "access_info": "Adgang",
        "presence_required": "Tilstedeværelse", "identity_check": "Identifikation",
        "ekg": "EKG ønskes", "requester": "Rekvirent", "preferred_days": "Ønskede dage",
        "stability_minutes": "Holdbarhed (min)", "note": "Bemærkning",
        "municipality_reference": "Kommunens reference",
        "not_eligible_reason": "Ikke omfattet, begrundelse",
        "address_is_registered": "Prøveadresse er folkeregisteradressen",
        "flags": "Bekræftet ved oprettelsen", "created_by": "Oprettet af",
        "citizen_id": "Borger", "municipality_id": "Kommune", "department_id": "Afdeling",
        "agreement_id": "Aftale",
    },
    "visits": {
        "route_id": "Rute", "sequence": "Nr. på ruten", "date": "Besøgsdag",
        "planned_arrival": "Planlagt ankomst", "window_start": "Tidsvindue fra",
        "window_end": "Tidsvindue til", "locked": "Låst (svar sendt)",
        "reply_sent_at": "Svar sendt", "leg_km": "Km fra forrige stop",
        "leg_ferry_minutes": "Færgeminutter", "outcome": "Udfald",
        "outcome_note": "Bemærkning til udfald", "ekg_done": "EKG taget",
        "standalone_km": "Km som enkelttur", "ferry_link": "Færgeforbindelse",
        "km_share": "Km-andel", "ferry_share": "Færgeandel",
        "shares_locked": "Andele låst (faktureret)", "request_id": "Henvisning",
    },
    "cancellations": {
        "at": "Tidspunkt", "by": "Aflyst af", "channel": "Kanal", "late": "Sen aflysning",
        "visit_start": "Besøgets start", "recorded_by": "Registreret af",
        "note": "Bemærkning", "request_id": "Henvisning",
    },
}
# What the coordinator confirmed when saving a request (``Request.flags``).
CONFIRMED = {
    "citizen_changed": "borgerens navn/adresse ændret",
    "duplicate": "trods åben henvisning fra samme kommune",
    "deadline_passed": "fristen var overskredet",
}
POSITION_QUALITY = {"exact": "Præcis", "approximate": "Omtrentlig (postnummer)",
                    "register": "Adresseregister"}


def audit_field_label(table: str, column: str) -> str:
    return AUDIT_FIELD.get(table, {}).get(column, column.replace("_", " ").capitalize())
