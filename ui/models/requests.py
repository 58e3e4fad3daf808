"""The Henvisninger list: a lazily loaded table model over RequestService.page/count.

Only ``PAGE`` rows are fetched at a time (canFetchMore/fetchMore), each page after the
last one's key (the service's cursor), so 100,000 requests scroll without loading them all,
and the 500th page costs what the first does. Sorting is the service's too: ``sort()`` (a
header click) reloads the first page in the new order, so the order holds for rows not yet
loaded. Testable without widgets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from hjemmeprove.domain.labels import ACTIVE_STATUSES, status_label
from hjemmeprove.services.requests import DEFAULT_SORT, ListCursor, RequestRow
from ui import fmt

PAGE = 200

COL_ID, COL_CPR, COL_NAME, COL_MUNI, COL_RECEIVED, COL_DEADLINE, COL_STATUS, COL_PLANNED, \
    COL_ADDRESS, COL_EKG, COL_LATE = range(11)
HEADERS = ["Nr.", "CPR", "Navn", "Kommune", "Modtaget", "Frist", "Status", "Planlagt",
           "Adresse", "EKG", "Sen aflysning"]
# the service's sort key per column (CPR sorts on the stored number, shown masked)
SORT_KEYS = {COL_ID: "id", COL_CPR: "cpr", COL_NAME: "name", COL_MUNI: "municipality",
             COL_RECEIVED: "received", COL_DEADLINE: "deadline", COL_STATUS: "status",
             COL_PLANNED: "planned", COL_ADDRESS: "address", COL_EKG: "ekg", COL_LATE: "late"}
DEFAULT_SORT_COLUMN = next(c for c, k in SORT_KEYS.items() if k == DEFAULT_SORT)
LATE_COLOR = QColor("#c62828")
DUE_COLOR = QColor("#fff3cd")


@dataclass(frozen=True)
class RequestFilter:
    search: str = ""
    status: str | tuple[str, ...] | None = None  # one status or a tuple (ACTIVE_STATUSES)
    municipality_code: int | None = None
    deadline_within_days: int | None = None
    late_cancellations: bool = False
    today: dt.date | None = None
    sort: str = DEFAULT_SORT
    descending: bool = False

    def kwargs(self) -> dict:
        """The filters, as RequestService.count takes them."""
        return dict(search=self.search, status=self.status,
                    municipality_code=self.municipality_code,
                    deadline_within_days=self.deadline_within_days,
                    late_cancellations=self.late_cancellations, today=self.today)

    def order(self) -> dict:
        """The order, as RequestService.list takes it besides the filters."""
        return dict(sort=self.sort, descending=self.descending)


@dataclass
class _State:
    filter: RequestFilter = field(default_factory=RequestFilter)
    total: int = 0
    rows: list[RequestRow] = field(default_factory=list)
    loaded: bool = False
    after: ListCursor | None = None  # where the next page starts; None: no more


class RequestTableModel(QAbstractTableModel):
    def __init__(self, service, today: dt.date | None = None, parent=None):
        super().__init__(parent)
        self.service = service
        self.today = today
        self._s = _State()
        self._order = (DEFAULT_SORT, False)
        # How a new order is loaded: a view sets this to a background load (its Op) and
        # applies the result; without one, sort() reloads here (tests, scripts).
        self.loader: Callable[[RequestFilter], None] | None = None

    # --- loading ----------------------------------------------------------------------------

    def load(self, flt: RequestFilter) -> None:
        """Counts the matches and fetches the first page (call from a background Op or in
        tests; the result is applied with ``apply``)."""
        self.apply(*self.query(flt))

    def query(self, flt: RequestFilter) -> tuple:
        """Runs off the GUI thread: the count and the first page, in the filter's order
        (the arguments of ``apply``)."""
        kw = self._kwargs(flt)
        total = self.service.count(**kw)
        page = self.service.page(**kw, **flt.order(), limit=PAGE)
        return flt, total, page.rows, page.next

    def apply(self, flt: RequestFilter, total: int, rows: list[RequestRow],
              after: ListCursor | None = None) -> None:
        self.beginResetModel()
        self._s = _State(flt, total, list(rows), loaded=True, after=after)
        self._order = (flt.sort, flt.descending)
        self.endResetModel()

    def _kwargs(self, flt: RequestFilter) -> dict:
        kw = flt.kwargs()
        if kw["today"] is None:
            kw["today"] = self.today
        return kw

    @property
    def filter(self) -> RequestFilter:
        """The filter and order of the rows shown."""
        return self._s.filter

    def ordered(self, flt: RequestFilter) -> RequestFilter:
        """``flt`` in the order last asked for with sort()."""
        return replace(flt, sort=self._order[0], descending=self._order[1])

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """Reloads in the column's order from the service (column -1: the default, by
        deadline). Before anything is loaded it only remembers the order."""
        key = SORT_KEYS.get(column, DEFAULT_SORT)
        descending = column in SORT_KEYS and order == Qt.SortOrder.DescendingOrder
        if (key, descending) == self._order:
            return
        self._order = (key, descending)
        if not self._s.loaded and self.loader is None:
            return
        flt = self.ordered(self._s.filter)
        if self.loader is not None:
            self.loader(flt)
        else:
            self.load(flt)

    def sort_column(self) -> int:
        return next(c for c, k in SORT_KEYS.items() if k == self._order[0])

    def sort_order(self) -> Qt.SortOrder:
        return Qt.SortOrder.DescendingOrder if self._order[1] else Qt.SortOrder.AscendingOrder

    @property
    def total(self) -> int:
        return self._s.total

    def canFetchMore(self, parent=QModelIndex()) -> bool:
        return (not parent.isValid() and self._s.after is not None
                and len(self._s.rows) < self._s.total)

    def fetchMore(self, parent=QModelIndex()) -> None:
        if parent.isValid():
            return
        if self._s.after is None:
            return
        flt = self._s.filter
        page = self.service.page(**self._kwargs(flt), **flt.order(), after=self._s.after,
                                 limit=PAGE)
        more = page.rows
        self._s.after = page.next
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
        return r.status in ACTIVE_STATUSES and r.deadline < today

    @staticmethod
    def _display(r: RequestRow, c: int) -> str:
        return {
            COL_ID: str(r.id), COL_CPR: r.cpr_masked, COL_NAME: r.citizen_name,
            COL_MUNI: r.municipality, COL_RECEIVED: fmt.date(r.received),
            COL_DEADLINE: fmt.date(r.deadline), COL_STATUS: status_label(r.status).capitalize(),
            COL_PLANNED: fmt.date(r.planned_date), COL_ADDRESS: r.address,
            COL_EKG: "EKG" if r.ekg else "", COL_LATE: "SEN" if r.late_cancellation else "",
        }[c]
