"""A small table model over a list of plain rows (dataclasses), with declared columns.

Used for every list that is small enough to load whole (settings tables, billing lines, a
day's visits). The long request list has its own lazy model (ui/models/requests.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

# The raw value a column sorts by (a number, Decimal, date; else its text): what the one
# sort proxy of every table, ui.widgets.SortProxy, compares.
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True)
class Column:
    header: str
    text: Callable[[Any], str]
    sort: Callable[[Any], Any] | None = None
    right: bool = False
    color: Callable[[Any], str | None] | None = None  # foreground colour name
    tooltip: Callable[[Any], str | None] | None = None


class RowTableModel(QAbstractTableModel):
    def __init__(self, columns: Sequence[Column], rows: Sequence[Any] = (), parent=None):
        super().__init__(parent)
        self.columns = list(columns)
        self.rows = list(rows)

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(row)
        if role == SORT_ROLE:
            return col.sort(row) if col.sort else col.text(row)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.TextAlignmentRole and col.right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col.color:
            name = col.color(row)
            return QBrush(QColor(name)) if name else None
        if role == Qt.ItemDataRole.ToolTipRole and col.tooltip:
            return col.tooltip(row)
        return None
