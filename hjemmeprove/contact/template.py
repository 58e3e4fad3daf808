"""SMS texts and the gateway's JSON body: what may be in them, checked when a template is
saved and again when each message is built.

An SMS is not a secure channel, so a reminder says only the date, the time window and how to
cancel (the Danish Agency for Digitisation's rule for SMS): no CPR number, no name, no
address, no clinical information. Templates may use only the placeholders below; a saved
template and every built message are checked for a CPR-like number and for clinical words.
"""

from __future__ import annotations

import json
import re

from hjemmeprove.errors import ValidationError

# placeholders a reminder text may use (Danish, as the department writes its template)
MESSAGE_FIELDS = {
    "dato": "besøgets dato, fx 'tirsdag 5. marts'",
    "tidsrum": "tidsvinduet, fx '09:00-11:00'",
    "aflys_tlf": "telefonnummer for aflysning (indstilling contact.cancel_phone)",
    "afsender": "afsenderens navn (indstilling sms.sender)",
}
# placeholders the gateway's JSON body may use
BODY_FIELDS = {"telefon", "besked", "reference", *MESSAGE_FIELDS}

# words that would tell the reader something about the citizen's health (checked lower-case,
# as whole words or word beginnings)
CLINICAL_WORDS = ("blodprøve", "prøve", "ekg", "faste", "fastende", "diagnose", "medicin",
                  "analyse", "sygdom", "behandling", "hjemmepleje", "hjemmesygepleje",
                  "klinisk", "biokemi", "hiv", "diabetes", "kræft", "insulin", "blodsukker")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_DIGITS_10 = re.compile(r"(?<!\d)\d{6}[-\s]?\d{4}(?!\d)")
MAX_SMS = 480  # three concatenated SMS


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def forbidden_content(text: str) -> list[str]:
    """What in ``text`` must not be in an SMS (empty when it is fine)."""
    problems = []
    if _DIGITS_10.search(text):
        problems.append("indeholder noget, der ligner et CPR-nummer")
    low = text.lower()
    for word in CLINICAL_WORDS:
        if re.search(rf"(?<![a-zæøå]){re.escape(word)}", low):
            problems.append(f"indeholder det kliniske ord '{word}'")
    return problems


def check_message_template(text: str, field: str = "SMS-tekst") -> None:
    """A reminder text: only the allowed placeholders, nothing clinical, no CPR."""
    problems = []
    unknown = placeholders(text) - set(MESSAGE_FIELDS)
    if unknown:
        problems.append(f"ukendte felter {', '.join('{' + u + '}' for u in sorted(unknown))}; "
                        f"tilladt: {', '.join('{' + k + '}' for k in MESSAGE_FIELDS)}")
    if "{dato}" not in text or "{tidsrum}" not in text:
        problems.append("skal indeholde {dato} og {tidsrum}")
    problems += forbidden_content(_PLACEHOLDER.sub("", text))
    if problems:
        raise ValidationError("; ".join(problems), field)


def check_body_template(text: str, field: str = "SMS-gatewayens JSON-skabelon") -> None:
    """The gateway's JSON body: valid JSON, placeholders only inside strings and known."""
    try:
        body = json.loads(text)
    except ValueError as e:
        raise ValidationError(f"er ikke gyldig JSON ({e.msg}, tegn {e.pos})", field) from None
    found: set[str] = set()
    _walk(body, lambda s: found.update(placeholders(s)) or s)
    unknown = found - BODY_FIELDS
    if unknown:
        raise ValidationError(f"ukendte felter {', '.join('{' + u + '}' for u in sorted(unknown))}"
                              f"; tilladt: {', '.join('{' + k + '}' for k in sorted(BODY_FIELDS))}",
                              field)
    if "besked" not in found or "telefon" not in found:
        raise ValidationError("skal indeholde {telefon} og {besked}", field)


def fill(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def build_message(template: str, values: dict[str, str], never: tuple[str, ...] = ()) -> str:
    """The reminder text for one visit. ``never`` holds this citizen's own CPR, name, address,
    note and access info: the message is refused if any of them ended up in it."""
    check_message_template(template)
    text = fill(template, {k: values.get(k, "") for k in MESSAGE_FIELDS})
    # the department's own numbers may look like ten digits (+4562223000): not a CPR number
    own = text
    for key in ("aflys_tlf", "afsender"):
        if values.get(key):
            own = own.replace(values[key], "")
    problems = forbidden_content(own)
    low = text.lower()
    digits = re.sub(r"\D", "", text)
    for secret in never:
        s = (secret or "").strip().lower()
        bare = re.sub(r"\D", "", s)
        if (len(s) >= 4 and s in low) or (len(bare) == 10 and bare in digits):
            problems.append("indeholder borgerens egne oplysninger")
            break
    if len(text) > MAX_SMS:
        problems.append(f"er længere end {MAX_SMS} tegn")
    if problems:
        raise ValidationError("; ".join(problems), "SMS-tekst")
    return text


def build_body(template: str, values: dict[str, str]) -> bytes:
    """The POST body: the JSON template with each string's placeholders filled (JSON-escaped
    by ``json.dumps``, so a value cannot break out of its string)."""
    check_body_template(template)
    body = _walk(json.loads(template), lambda s: fill(s, values))
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _walk(node, fn):
    if isinstance(node, str):
        return fn(node)
    if isinstance(node, list):
        return [_walk(x, fn) for x in node]
    if isinstance(node, dict):
        return {k: _walk(v, fn) for k, v in node.items()}
    return node

