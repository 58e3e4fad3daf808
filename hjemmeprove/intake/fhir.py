"""FHIR R4 resources as plain Python data, read from and written to JSON or XML.

Hand-written with ``json`` and ``lxml`` (no FHIR library): a bundle becomes the same
JSON-shaped tree whichever format it came in, so the rest of the intake reads one shape.
XML has no arrays, so a repeated element may be one value or a list; ``items()`` and
``first()`` read both. Writing keeps each dict's key order, so whoever builds a resource
puts the keys in FHIR's element order (the XML format requires it).
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
MAX_BYTES = 50 * 1024 * 1024  # a CareCommunication with attachments; larger is refused


class FhirFormatError(ValueError):
    """The bytes are not a FHIR resource in JSON or XML (truncated, not UTF-8, ...)."""


def items(value: Any) -> list:
    """A repeated element as a list (XML gives a single occurrence as itself)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def first(value: Any) -> Any:
    """The first occurrence of a repeated element, or None."""
    values = items(value)
    return values[0] if values else None


def detect_format(data: bytes) -> str:
    head = data.lstrip()[:1]
    if data.startswith(b"\xef\xbb\xbf"):
        head = data[3:].lstrip()[:1]
    if head == b"{":
        return "json"
    if head == b"<":
        return "xml"
    raise FhirFormatError("er hverken FHIR JSON eller FHIR XML")


def parse(data: bytes) -> tuple[dict, str]:
    """Bytes to (resource, "json" | "xml"); raises FhirFormatError with a Danish reason."""
    if len(data) > MAX_BYTES:
        raise FhirFormatError(f"er større end {MAX_BYTES // (1024 * 1024)} MB")
    fmt = detect_format(data)
    if fmt == "json":
        try:
            resource = json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as e:
            raise FhirFormatError(f"er ikke UTF-8 (byte {e.start})") from None
        except json.JSONDecodeError as e:
            raise FhirFormatError(f"er ikke gyldig JSON (linje {e.lineno}: {e.msg}); "
                                  "afkortet fil?") from None
        if not isinstance(resource, dict) or "resourceType" not in resource:
            raise FhirFormatError("JSON uden resourceType")
        return resource, fmt
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise FhirFormatError(f"er ikke gyldig XML ({e.msg}); afkortet fil?") from None
    if etree.QName(root).namespace != FHIR_NS:
        raise FhirFormatError("XML uden FHIR-navnerummet http://hl7.org/fhir")
    return _resource_from_xml(root), fmt


def _resource_from_xml(el) -> dict:
    out = {"resourceType": etree.QName(el).localname}
    out.update(_children(el))
    return out


def _children(el) -> dict:
    out: dict[str, Any] = {}
    repeated: set[str] = set()
    for ch in el:
        if not isinstance(ch.tag, str):
            continue
        q = etree.QName(ch)
        if q.namespace == XHTML_NS:
            out[q.localname] = etree.tostring(ch, encoding="unicode", with_tail=False)
            continue
        if q.namespace != FHIR_NS:
            continue
        name = q.localname
        if name in ("resource", "contained") and len(ch) and "value" not in ch.attrib:
            inner = next((c for c in ch if isinstance(c.tag, str)), None)
            value: Any = _resource_from_xml(inner) if inner is not None else {}
        elif "value" in ch.attrib and not len(ch):
            value = ch.attrib["value"]
        else:
            value = {}
            for attr in ("url", "id"):
                if attr in ch.attrib:
                    value[attr] = ch.attrib[attr]
            if "value" in ch.attrib:  # a primitive with extensions: keep the value
                value = ch.attrib["value"]
            else:
                value.update(_children(ch))
        if name in out:
            if name not in repeated:
                out[name] = [out[name]]
                repeated.add(name)
            out[name].append(value)
        else:
            out[name] = value
    return out


# --- writing ---------------------------------------------------------------------------


def dumps(resource: dict, fmt: str) -> bytes:
    """A resource as FHIR JSON or FHIR XML bytes (UTF-8)."""
    if fmt == "json":
        return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if fmt != "xml":
        raise ValueError(f"unknown format {fmt!r}")
    root = _resource_to_xml(resource)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _resource_to_xml(resource: dict):
    el = etree.Element(f"{{{FHIR_NS}}}{resource['resourceType']}", nsmap={None: FHIR_NS})
    _write_fields(el, resource)
    return el


def _write_fields(parent, obj: dict) -> None:
    for key, value in obj.items():
        if key == "resourceType":
            continue
        for v in items(value):
            _write_value(parent, key, v)


def _write_value(parent, key: str, value: Any) -> None:
    if key == "div" and isinstance(value, str):
        parent.append(etree.fromstring(value))
        return
    child = etree.SubElement(parent, f"{{{FHIR_NS}}}{key}")
    if isinstance(value, dict):
        if "resourceType" in value and key in ("resource", "contained"):
            child.append(_resource_to_xml(value))
            return
        if "url" in value and key in ("extension", "modifierExtension"):
            child.set("url", value["url"])
            value = {k: v for k, v in value.items() if k != "url"}
        _write_fields(child, value)
    elif isinstance(value, bool):
        child.set("value", "true" if value else "false")
    else:
        child.set("value", str(value))
