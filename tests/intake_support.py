"""Shared by the intake tests: the MedCom test files, registering their senders, and a
structural check of acknowledgements against the Acknowledgement profiles' required
elements (MedComAcknowledgementMessage, -MessageHeader, -OperationOutcome)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from hjemmeprove.intake import fhir
from hjemmeprove.intake.fhir import first, items

DATA = Path(__file__).parent / "data" / "medcom" / "receive"

# every sender organisation in MedCom's receive examples (SOR), registered as Svendborg (479)
EXAMPLE_SENDERS = {
    "441211000016000": "Klinik for Ældresygdomme, AUH, Skejby",
    "265161000016000": "Hjerteafdelingen på Herlev og Gentofte hospital",
    "382871000016004": "Arden Lægehus",
    "328081000016004": "Hjemmesygeplejen, Aalborg kommune",
    "1053231000016001": "Sygehusadviser, Hillerød",
    "325371000016006": "MedCom FDIS91",
    "330461000016004": "Sundhedsplejen, Aabenraa kommune",
}


def example(prefix: str) -> Path:
    [path] = [p for p in DATA.iterdir() if p.name.startswith(f"Bundle-{prefix}-")]
    return path


def register_senders(app, code: int = 479) -> None:
    from hjemmeprove.intake.service import IntakeService

    service = IntakeService(app.store)
    for sor, name in EXAMPLE_SENDERS.items():
        service.add_sender(code, sor=sor, name=name)


ACK_PROFILE = ("http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
               "medcom-messaging-acknowledgement")
HEADER_ORDER = ["id", "meta", "text", "eventCoding", "destination", "sender", "source",
                "response"]


def check_acknowledgement(data: bytes, fmt: str) -> dict:
    """Parses an acknowledgement and asserts the profiles' required elements; returns
    {"code", "response_to", "receiver_sor", "sender_sor", "endpoint", "issues"}."""
    resource, got_fmt = fhir.parse(data)
    assert got_fmt == fmt
    assert resource["resourceType"] == "Bundle" and resource.get("id")
    assert resource["type"] == "message" and resource.get("timestamp")
    assert ACK_PROFILE in items(resource["meta"]["profile"])
    entries = [e["resource"] for e in items(resource["entry"])]
    index = {f"{r['resourceType']}/{r['id']}": r for r in entries}
    header = entries[0]
    assert header["resourceType"] == "MessageHeader" and header.get("id")
    assert header["eventCoding"]["code"] == "acknowledgement-message"
    assert header["eventCoding"]["system"].endswith("medcom-messaging-eventCodes")
    destinations = items(header["destination"])
    assert len(destinations) == 1  # destination[cc] ..0
    dest = destinations[0]
    use = first(dest["extension"])
    assert use["url"].endswith("medcom-messaging-destinationUseExtension")
    assert use["valueCoding"]["code"] == "primary"
    assert dest["endpoint"].startswith("https://sor2.sum.dsdn.dk/#id=")
    receiver = index[dest["receiver"]["reference"]]
    sender = index[header["sender"]["reference"]]
    assert header["source"]["endpoint"]
    for org in (receiver, sender):
        assert org["resourceType"] == "Organization"
        systems = {i["system"] for i in items(org["identifier"])}
        assert {"urn:oid:1.2.208.176.1.1", "https://www.gs1.org/gln"} <= systems
    response = header["response"]
    assert response["identifier"] and response["code"] in ("ok", "transient-error",
                                                           "fatal-error")
    issues = []
    if response["code"] != "ok":  # medcom-acknowledgement-1
        outcome = index[response["details"]["reference"]]
        assert outcome["resourceType"] == "OperationOutcome"
        for issue in items(outcome["issue"]):
            assert issue["severity"] and issue["code"]
            assert issue["details"].get("text") or issue["details"].get("coding")
            issues.append(issue["details"].get("text", ""))
        assert issues
    provenances = [r for r in entries if r["resourceType"] == "Provenance"]
    ours = [p for p in provenances
            if first(p["target"])["reference"] == f"MessageHeader/{header['id']}"]
    assert len(ours) == 1
    assert first(ours[0]["activity"]["coding"])["code"] == "acknowledgement"
    assert ours[0]["occurredDateTime"] and ours[0]["recorded"]
    assert first(ours[0]["entity"])["what"]["reference"] == \
        f"MessageHeader/{response['identifier']}"
    if fmt == "xml":  # FHIR XML: namespace and element order
        root = etree.fromstring(data)
        assert root.tag == "{http://hl7.org/fhir}Bundle"
        mh = root.find("{*}entry/{*}resource/{*}MessageHeader")
        names = [etree.QName(c).localname for c in mh]
        assert names == sorted(names, key=HEADER_ORDER.index)
    sor = {i["system"]: i["value"] for i in items(receiver["identifier"])}
    own = {i["system"]: i["value"] for i in items(sender["identifier"])}
    return {"code": response["code"], "response_to": response["identifier"],
            "receiver_sor": sor["urn:oid:1.2.208.176.1.1"],
            "sender_sor": own["urn:oid:1.2.208.176.1.1"],
            "endpoint": dest["endpoint"], "issues": issues}
