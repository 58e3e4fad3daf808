"""Plain data the invoice documents are rendered from (no ORM objects, nothing from billing).

``billing.documents`` assembles an ``InvoiceDoc`` from the database; the renderers in this
package (invoice PDF, statement PDF/CSV, OIOUBL) read only these classes.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

# Which personal data a statement line shows: ``domain.labels.PERSONAL_DATA_LEVELS``; the
# referral number is always shown (it is what the municipality's reply quoted).
DEFAULT_PERSONAL_DATA = "referral"

# No VAT on the home sampling service: its legal basis, printed on the invoice and statement.
VAT_EXEMPT_TEXT = ("ingen moms: momsfri sundhedsydelse, jf. momsloven § 13, stk. 1, nr. 1 "
                   "(offentlig sundhedsydelse mellem myndigheder)")


@dataclass(frozen=True)
class Party:
    name: str
    address: str = ""
    postcode: str = ""
    city: str = ""
    ean: str = ""
    cvr: str = ""
    unit: str = ""  # e.g. the hospital; the buyer's home nursing unit
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    bank_reg: str = ""
    bank_account: str = ""
    person_reference: str = ""
    order_reference: str = ""


@dataclass(frozen=True)
class DocLine:
    """One invoice line as billed."""

    code: str
    text: str
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class ItemRow:
    visit_id: int
    date: dt.date
    citizen_name: str
    cpr: str  # as stored: masked unless the agreement asks for the full number
    outcome: str
    billable: bool
    km_share: Decimal
    ferry_share: Decimal
    km_planned: bool
    ekg: bool
    request_id: int | None = None  # the referral number the municipality's reply quoted
    municipality_reference: str = ""  # the municipality's own reference, when it gave one
    route_id: int | None = None


@dataclass(frozen=True)
class RouteRow:
    """A route (one bioanalyst's day) that carries visits on this statement: its totals and
    this municipality's share of them."""

    route_id: int
    date: dt.date
    km: Decimal  # the route's km (recorded, else planned)
    ferry_minutes: Decimal
    km_planned: bool
    visits: int  # visits on the route carrying a share (all municipalities)
    own_visits: int  # of which on this statement
    own_km: Decimal
    own_ferry: Decimal

    @property
    def shared(self) -> bool:
        return self.visits > self.own_visits


@dataclass(frozen=True)
class InvoiceDoc:
    invoice_id: int
    kind: str  # invoice | credit_note
    number: int | None  # None: draft
    status: str
    month: str
    period_start: dt.date
    period_end: dt.date
    issue_date: dt.date | None
    due_date: dt.date | None
    seller: Party
    buyer: Party
    municipality_code: int
    agreement_reference: str
    lines: list[DocLine]
    total: Decimal  # sum of lines, excl. VAT
    vat_percent: Decimal
    vat_amount: Decimal
    items: list[ItemRow] = field(default_factory=list)
    settings: list[tuple[str, str]] = field(default_factory=list)  # printed on the statement
    credits_number: int | None = None
    credits_issue_date: dt.date | None = None
    reason: str = ""
    routes: list[RouteRow] = field(default_factory=list)
    personal_data: str = DEFAULT_PERSONAL_DATA
    demo: bool = False  # from a demo database: every page says DEMO (common.mark_demo)

    @property
    def payable(self) -> Decimal:
        return self.total + self.vat_amount

    @property
    def ref(self) -> str:
        return str(self.number) if self.number is not None else f"KLADDE-{self.invoice_id}"

    @property
    def is_credit(self) -> bool:
        return self.kind == "credit_note"

    @property
    def is_draft(self) -> bool:
        return self.number is None

    @property
    def shows_name(self) -> bool:
        return self.personal_data in ("name", "name_cpr")

    @property
    def shows_cpr(self) -> bool:
        return self.personal_data == "name_cpr"


# --- file names -------------------------------------------------------------------------------

def slug(text: str) -> str:
    text = text.replace("æ", "ae").replace("Æ", "Ae").replace("ø", "oe").replace("Ø", "Oe")
    text = text.replace("å", "aa").replace("Å", "Aa")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def filenames(doc: InvoiceDoc) -> dict[str, str]:
    word = "kreditnota" if doc.is_credit else "faktura"
    base = f"{doc.month}_{doc.municipality_code}-{slug(doc.buyer.name)}_{word}-{doc.ref.lower()}"
    return {"invoice_pdf": f"{base}.pdf", "statement_pdf": f"{base}_opgoerelse.pdf",
            "statement_csv": f"{base}_opgoerelse.csv", "oioubl": f"{base}_oioubl.xml"}
