"""The day's contact list as a table: columns over ``contact.service.ContactRow``."""

from __future__ import annotations

from hjemmeprove.domain import labels
from ui import fmt
from ui.models.table import Column, RowTableModel

STATUS_COLOR = {"reached": "#2e7d32", "delivered": "#2e7d32", "sent": "#1565c0",
                "failed": "#c62828", "not_reached": "#c62828"}

COL_DATE, COL_WINDOW, COL_CITIZEN, COL_CPR, COL_PHONE, COL_CHANNEL, COL_STATUS, COL_ATTEMPTS, \
    COL_ANALYST, COL_NOTE = range(10)

COLUMNS = [
    Column("Besøgsdag", lambda r: fmt.day_label(r.visit_date), sort=lambda r: r.visit_date),
    Column("Tidsrum", lambda r: r.window_text),
    Column("Borger", lambda r: r.citizen_name),
    Column("CPR", lambda r: r.cpr_masked),
    Column("Telefon", lambda r: r.phone or "—",
           color=lambda r: "#c62828" if not r.phone and r.channel != "letter" else None),
    Column("Kanal", lambda r: labels.reminder_channel_label(r.channel)
           + (" *" if r.channel_note else ""),
           tooltip=lambda r: r.channel_note or None),
    Column("Status", lambda r: labels.reminder_status_label(r.status),
           color=lambda r: STATUS_COLOR.get(r.status),
           tooltip=lambda r: r.sms_error or None),
    Column("Forsøg", lambda r: str(r.attempts) if r.attempts else "", sort=lambda r: r.attempts,
           right=True),
    Column("Bioanalytiker", lambda r: r.analyst),
    Column("Bemærkning", lambda r: r.note or r.sms_error or
           ("svar sendt" if r.replied else "")),
]
assert len(COLUMNS) == COL_NOTE + 1


class ContactModel(RowTableModel):
    def __init__(self, parent=None):
        super().__init__(COLUMNS, [], parent)
