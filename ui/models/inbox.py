"""The Indbakke list: threads of MedCom messages (IntakeService.threads), unread in bold."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QFont

from hjemmeprove.domain import labels
from ui import fmt
from ui.models.table import Column, RowTableModel

COL_UNREAD, COL_AT, COL_KIND, COL_CPR, COL_NAME, COL_MUNI, COL_CATEGORY, COL_TOPIC, \
    COL_REQUEST = range(9)

def _request(row) -> str:
    if row.request_id is None:
        return ""
    return f"{labels.handled_label(row.handled or 'request')} {row.request_id}"


COLUMNS = [
    Column("", lambda r: "●" if r.unread else "", sort=lambda r: int(r.unread),
           color=lambda r: "#1565c0" if r.unread else None,
           tooltip=lambda r: "Ulæst" if r.unread else None),
    Column("Modtaget", lambda r: fmt.datetime(r.last_at), sort=lambda r: r.last_at),
    Column("Type", lambda r: r.last_activity),
    Column("CPR", lambda r: r.patient),
    Column("Borger", lambda r: r.patient_name),
    Column("Kommune", lambda r: r.municipality),
    Column("Kategori", lambda r: r.category),
    Column("Emne", lambda r: r.topic),
    Column("Blev til", _request, sort=lambda r: r.request_id or 0),
]


class InboxTableModel(RowTableModel):
    def __init__(self, parent=None):
        super().__init__(COLUMNS, (), parent)

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.FontRole and index.isValid() and self.rows[index.row()].unread:
            font = QFont()
            font.setBold(True)
            return font
        return super().data(index, role)

    def row_of_id(self, thread_id: int) -> int | None:
        return next((i for i, r in enumerate(self.rows) if r.id == thread_id), None)
