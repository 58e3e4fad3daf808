"""Plain data the documents are rendered from (no ORM objects reach the renderers)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from hjemmeprove.billing.fees import Line

OUTCOME_TEXT = {"taken": "Taget", "not_home": "Ikke hjemme", "refused": "Afvist/ikke muligt",
                "cancelled_late": "Sent aflyst", None: "Ikke registreret"}
RULE_TEXT = {"standalone": "enkelttur (lab→borger→lab)", "equal": "ligelig fordeling"}


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
class ItemRow:
    visit_id: int
    date: dt.date
    citizen_name: str
    cpr: str  # as printed: masked unless the agreement asks for the full number
    outcome: str
    billable: bool
    km_share: Decimal
    ferry_share: Decimal
    km_planned: bool
    ekg: bool


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
    lines: list[Line]
    total: Decimal  # sum of lines, excl. VAT
    vat_percent: Decimal
    vat_amount: Decimal
    items: list[ItemRow] = field(default_factory=list)
    settings: list[tuple[str, str]] = field(default_factory=list)  # printed on the statement
    credits_number: int | None = None
    credits_issue_date: dt.date | None = None
    reason: str = ""

    @property
    def payable(self) -> Decimal:
        return self.total + self.vat_amount

    @property
    def ref(self) -> str:
        return str(self.number) if self.number is not None else f"KLADDE-{self.invoice_id}"

    @property
    def is_credit(self) -> bool:
        return self.kind == "credit_note"
