"""The Henvisninger list: a lazily loaded table model over RequestService.list/count.

Only ``PAGE`` rows are fetched at a time (canFetchMore/fetchMore), so 100,000 requests scroll
without loading them all. Testable without widgets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor

from hjemmeprove.services.requests import RequestRow, status_label
from ui import fmt

PAGE = 200

COL_ID, COL_CPR, COL_NAME, COL_MUNI, COL_RECEIVED, COL_DEADLINE, COL_STATUS, COL_PLANNED, \
    COL_ADDRESS, COL_EKG, COL_LATE = range(11)
HEADERS = ["Nr.", "CPR", "Navn", "Kommune", "Modtaget", "Frist", "Status", "Planlagt",
           "Adresse", "EKG", "Sen aflysning"]
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
LATE_COLOR = QColor("#c62828")
DUE_COLOR = QColor("#fff3cd")


@dataclass
class RequestFilter:
    search: str = ""
    status: str | None = None
    municipality_code: int | None = None
    deadline_within_days: int | None = None
    late_cancellations: bool = False
    today: dt.date | None = None

    def kwargs(self) -> dict:
        return dict(search=self.search, status=self.status,
                    municipality_code=self.municipality_code,
                    deadline_within_days=self.deadline_within_days,
                    late_cancellations=self.late_cancellations, today=self.today)


@dataclass
class _State:
    filter: RequestFilter = field(default_factory=RequestFilter)
    total: int = 0
    rows: list[RequestRow] = field(default_factory=list)


class RequestTableModel(QAbstractTableModel):
    def __init__(self, service, today: dt.date | None = None, parent=None):
        super().__init__(parent)
        self.service = service
        self.today = today
        self._s = _State()

    # --- loading ----------------------------------------------------------------------------

    def load(self, flt: RequestFilter) -> None:
        """Counts the matches and fetches the first page (call from a background Op or in
        tests; the result is applied with ``apply``)."""
        self.apply(*self.query(flt))

    def query(self, flt: RequestFilter) -> tuple[RequestFilter, int, list[RequestRow]]:
        kw = flt.kwargs()
        if kw["today"] is None:
            kw["today"] = self.today
        total = self.service.count(**kw)
        rows = self.service.list(**kw, offset=0, limit=PAGE)
        return flt, total, rows

    def apply(self, flt: RequestFilter, total: int, rows: list[RequestRow]) -> None:
        self.beginResetModel()
        self._s = _State(flt, total, list(rows))
        self.endResetModel()

    @property
    def total(self) -> int:
        return self._s.total

    def canFetchMore(self, parent=QModelIndex()) -> bool:
        return not parent.isValid() and len(self._s.rows) < self._s.total

    def fetchMore(self, parent=QModelIndex()) -> None:
        if parent.isValid():
            return
        kw = self._s.filter.kwargs()
        if kw["today"] is None:
            kw["today"] = self.today
        more = self.service.list(**kw, offset=len(self._s.rows), limit=PAGE)
        if not more:
            self._s.total = len(self._s.rows)
            return
        first = len(self._s.rows)
        self.beginInsertRows(QModelIndex(), first, first + len(more) - 1)
        self._s.rows.extend(more)
        self.endInsertRows()

    def row_at(self, row: int) -> RequestRow:
        return self._s.rows[row]

    def row_of_id(self, request_id: int) -> int | None:
        for i, r in enumerate(self._s.rows):
            if r.id == request_id:
                return i
        return None

    # --- Qt model ---------------------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._s.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self._s.rows[index.row()]
        c = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(r, c)
        if role == SORT_ROLE:
            return self._sort_key(r, c)
        if role == Qt.ItemDataRole.ForegroundRole and c == COL_LATE and r.late_cancellation:
            return QBrush(LATE_COLOR)
        if role == Qt.ItemDataRole.BackgroundRole and c == COL_DEADLINE and self._due_soon(r):
            return QBrush(DUE_COLOR)
        if role == Qt.ItemDataRole.ForegroundRole and c == COL_DEADLINE and self._overdue(r):
            return QBrush(LATE_COLOR)
        if role == Qt.ItemDataRole.ToolTipRole and c == COL_DEADLINE and self._overdue(r):
            return "Fristen er overskredet"
        if role == Qt.ItemDataRole.ToolTipRole and c == COL_LATE and r.late_cancellation:
            return "Aflyst mindre end 24 timer før det aftalte tidsvindue (§6)"
        if role == Qt.ItemDataRole.TextAlignmentRole and c in (COL_ID,):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _due_soon(self, r: RequestRow) -> bool:
        today = self.today or dt.date.today()
        return r.status == "open" and 0 <= (r.deadline - today).days <= 2

    def _overdue(self, r: RequestRow) -> bool:
        today = self.today or dt.date.today()
        return r.status in ("open", "planned", "locked") and r.deadline < today

    @staticmethod
    def _display(r: RequestRow, c: int) -> str:
        return {
            COL_ID: str(r.id), COL_CPR: r.cpr_masked, COL_NAME: r.citizen_name,
            COL_MUNI: r.municipality, COL_RECEIVED: fmt.date(r.received),
            COL_DEADLINE: fmt.date(r.deadline), COL_STATUS: status_label(r.status).capitalize(),
            COL_PLANNED: fmt.date(r.planned_date), COL_ADDRESS: r.address,
            COL_EKG: "EKG" if r.ekg else "", COL_LATE: "SEN" if r.late_cancellation else "",
        }[c]

    @staticmethod
    def _sort_key(r: RequestRow, c: int):
        return {
            COL_ID: r.id, COL_CPR: r.cpr_masked, COL_NAME: r.citizen_name,
            COL_MUNI: r.municipality, COL_RECEIVED: r.received.isoformat(),
            COL_DEADLINE: r.deadline.isoformat(), COL_STATUS: r.status,
            COL_PLANNED: r.planned_date.isoformat() if r.planned_date else "",
            COL_ADDRESS: r.address, COL_EKG: int(r.ekg), COL_LATE: int(r.late_cancellation),
        }[c]


class SortProxy(QSortFilterProxyModel):
    """Sorts on the raw values (dates as dates, numbers as numbers), not the Danish text."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)

    def canFetchMore(self, parent=QModelIndex()):
        return self.sourceModel().canFetchMore(self.mapToSource(parent))

    def fetchMore(self, parent=QModelIndex()):
        self.sourceModel().fetchMore(self.mapToSource(parent))
