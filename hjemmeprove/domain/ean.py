"""EAN/GLN numbers (GS1): 13 digits, the last a mod-10 check digit.

NemHandel finds a municipality by its EAN (GLN); a number with a wrong check digit is not an
address, and an e-invoice sent to it bounces. The schema and the OIOUBL schematron do not
check the digit, so every place that takes or sends an EAN checks it here.
"""

from __future__ import annotations


def check_digit(body: str) -> int:
    """The GS1 check digit for ``body`` (the digits before it): weights 3, 1, 3, … from the
    right, then the distance up to the next multiple of 10."""
    if not body.isdigit():
        raise ValueError(f"'{body}' er ikke cifre")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def with_check_digit(body: str) -> str:
    """The 12 digits ``body`` completed with their check digit."""
    return body + str(check_digit(body))


def is_valid(ean: str) -> bool:
    return ean_problem(ean) is None


def ean_problem(ean: str | None) -> str | None:
    """None for a valid 13-digit EAN/GLN, else what is wrong (Danish, for a FieldError)."""
    ean = (ean or "").strip()
    if not ean:
        return "mangler"
    if not (ean.isdigit() and len(ean) == 13):
        return f"'{ean}' skal være 13 cifre"
    if check_digit(ean[:12]) != int(ean[12]):
        return (f"'{ean}' har forkert kontrolciffer (det sidste ciffer skal være "
                f"{check_digit(ean[:12])}); tjek nummeret i EAN-registret")
    return None
