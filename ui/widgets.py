"""Small widgets every view uses: tables, headers, the "ikke tilgængelig" state (a Qt module
missing), field errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from numbers import Number

from PySide6.QtCore import QCollator, QDate, QLocale, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui import fmt
from ui.models.table import SORT_ROLE

ERROR_STYLE = "color: #b71c1c; font-size: 11px;"
FIELD_ERROR_STYLE = "border: 1px solid #c62828; background: #fff5f5;"


class SortProxy(QSortFilterProxyModel):
    """The one sort proxy of every table: it sorts by the value a model gives under
    ``SORT_ROLE`` (the raw number, ``Decimal`` amount, date or time behind the Danish text),
    as Vorta's sort proxy does. Qt itself cannot order a ``Decimal`` (it keeps the rows as
    they are) and would order "1.234,50 kr." as text; here numbers compare as numbers,
    dates as dates, text in Danish order (æ, ø, å last; "10" after "9"), and an empty value
    (None, "") comes before any value."""

    def __init__(self, model=None, parent=None):
        super().__init__(parent)
        if model is not None:
            self.setSourceModel(model)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self._collator = QCollator(QLocale(QLocale.Language.Danish, QLocale.Country.Denmark))
        self._collator.setNumericMode(True)
        self._collator.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def lessThan(self, left, right) -> bool:
        model = self.sourceModel()
        a = model.data(left, self.sortRole())
        b = model.data(right, self.sortRole())
        return self.compare(a, b) < 0

    def compare(self, a, b) -> int:
        """-1, 0 or 1: ``a`` before, with or after ``b``."""
        a_empty, b_empty = a is None or a == "", b is None or b == ""
        if a_empty or b_empty:
            return int(b_empty) - int(a_empty) if not (a_empty and b_empty) else 0
        if isinstance(a, (Number, Decimal)) and isinstance(b, (Number, Decimal)):
            return (a > b) - (a < b)
        if isinstance(a, str) and isinstance(b, str):
            c = self._collator.compare(a, b)
            return (c > 0) - (c < 0)
        if type(a) is type(b) or (isinstance(a, dt.date) and isinstance(b, dt.date)
                                  and isinstance(a, dt.datetime) == isinstance(b, dt.datetime)):
            try:
                return (a > b) - (a < b)
            except TypeError:
                pass
        sa, sb = str(a), str(b)
        return (sa > sb) - (sa < sb)


def confirm(parent, title_text: str, text: str, yes: str = "Ja", no: str = "Nej") -> bool:
    """A yes/no question (No is the default). Views and dialogs call it through an attribute
    (``ask_discard``, ``ask_confirm``) that tests replace: a test never opens a modal box."""
    box = QMessageBox(QMessageBox.Icon.Question, title_text, text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.button(QMessageBox.StandardButton.Yes).setText(yes)
    box.button(QMessageBox.StandardButton.No).setText(no)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes


def input_state(widget: QWidget) -> tuple:
    """What has been typed or chosen in every input field under ``widget`` (to tell whether
    a form was changed)."""
    state = []
    for w in widget.findChildren(QWidget):
        if isinstance(w, QLineEdit) and not isinstance(w.parent(), (QAbstractSpinBox,
                                                                    QComboBox)):
            state.append(w.text())
        elif isinstance(w, QPlainTextEdit):
            state.append(w.toPlainText())
        elif isinstance(w, QComboBox):
            state.append(w.currentIndex())
        elif isinstance(w, QAbstractButton) and w.isCheckable():
            state.append(w.isChecked())
        elif isinstance(w, QDateTimeEdit):
            state.append(w.dateTime().toString(Qt.DateFormat.ISODate))
        elif isinstance(w, QAbstractSpinBox):
            state.append(w.text())
    return tuple(state)


class ConfirmDiscard:
    """For a form dialog (mixed in before QDialog): Escape, "Annullér" or closing the window
    asks before throwing away what was typed. The form calls ``mark_pristine()`` once its
    values are in; ``ask_discard`` is the question (tests replace it)."""

    discard_question = "Du har ændringer, der ikke er gemt. Vil du kassere dem?"
    _pristine: tuple | None = None

    def mark_pristine(self) -> None:
        self._pristine = input_state(self)

    def is_changed(self) -> bool:
        return self._pristine is not None and input_state(self) != self._pristine

    def ask_discard(self) -> bool:
        return confirm(self, "Kassér ændringer?", self.discard_question,
                       yes="Kassér ændringerne", no="Fortsæt redigering")

    def reject(self) -> None:
        if self.is_changed() and not self.ask_discard():
            return  # keep editing: nothing is lost
        super().reject()


def table_view(model, parent=None, stretch_last: bool = True,
               sorting: bool = True) -> QTableView:
    view = QTableView(parent)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.setSortingEnabled(sorting)
    if sorting:
        view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # keep the given order at first
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(24)
    view.horizontalHeader().setStretchLastSection(stretch_last)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    return view


def title(text: str, sub: str = "") -> QWidget:
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 4)
    lay.setSpacing(0)
    t = QLabel(text)
    t.setObjectName("viewTitle")
    t.setStyleSheet("font-size: 18px; font-weight: 600;")
    lay.addWidget(t)
    if sub:
        s = QLabel(sub)
        s.setStyleSheet("color: #555;")
        s.setWordWrap(True)
        lay.addWidget(s)
    return w


class Unavailable(QFrame):
    """What a view shows when a core service it needs is not there (yet)."""

    def __init__(self, what: str, why: str = "", parent=None):
        super().__init__(parent)
        self.setObjectName("unavailable")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#unavailable { background: #f7f7f9; border: 1px dashed #aaa; }")
        lay = QVBoxLayout(self)
        label = QLabel(f"<b>{what} er ikke tilgængelig</b><br>{why}")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label = label
        lay.addStretch(1)
        lay.addWidget(label)
        lay.addStretch(1)


def error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.hide()
    return label


def hbox(*widgets, stretch_at: int | None = None) -> QHBoxLayout:
    lay = QHBoxLayout()
    for i, w in enumerate(widgets):
        if stretch_at == i:
            lay.addStretch(1)
        if isinstance(w, int):
            lay.addSpacing(w)
        else:
            lay.addWidget(w)
    if stretch_at is not None and stretch_at >= len(widgets):
        lay.addStretch(1)
    return lay


class ServiceView(QWidget):
    """A main view over one of the core's services.

    It loads its data the first time it is shown (so starting the program loads one view,
    not six) and again whenever one of its ``areas`` is named on the one "what changed"
    signal. A view that cannot work (a Qt module missing) calls ``mark_unavailable()`` and
    never loads.
    """

    areas: set[str] = set()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._loaded = False
        self._unavailable = False
        from ui.signals import hub

        hub().changed.connect(self._on_changed)

    def mark_unavailable(self) -> None:
        self._unavailable = True

    def reload(self) -> None:  # pragma: no cover - every view defines it
        raise NotImplementedError

    def _on_changed(self, areas: set) -> None:
        if self._loaded and not self._unavailable and areas & self.areas:
            self.reload()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._loaded and not self._unavailable:
            self._loaded = True
            self.reload()


class DayNavigation:
    """For a view with a ``day_bar`` in ``self.day``: read and set its day, and step to the
    previous or next working day (the department's calendar)."""

    def _step(self, days: int) -> None:
        cal = self.app.calendar()
        d = self.current_day() + dt.timedelta(days=days)
        while not cal.is_working_day(d):
            d += dt.timedelta(days=1 if days > 0 else -1)
        self.set_day(d)

    def set_day(self, day: dt.date) -> None:
        self.day.setDate(QDate(day.year, day.month, day.day))

    def current_day(self) -> dt.date:
        return self.day.date().toPython()


def day_bar(label: str, today, on_step) -> tuple[QHBoxLayout, QDateEdit, QLabel]:
    """The bar a day's view opens with: a date field with a calendar, ◀ ▶ to step a day
    (``on_step(-1 | 1)``) and a summary label on the right. Returns (bar, date, summary)."""
    bar = QHBoxLayout()
    day = QDateEdit(QDate(today.year, today.month, today.day))
    day.setCalendarPopup(True)
    day.setDisplayFormat(fmt.QT_DAY)
    prev_b, next_b = QToolButton(text="◀"), QToolButton(text="▶")
    prev_b.clicked.connect(lambda: on_step(-1))
    next_b.clicked.connect(lambda: on_step(1))
    bar.addWidget(QLabel(label))
    bar.addWidget(day)
    bar.addWidget(prev_b)
    bar.addWidget(next_b)
    summary = QLabel()
    summary.setTextFormat(Qt.TextFormat.RichText)
    summary.setWordWrap(True)  # a long day's summary wraps instead of widening the window
    bar.addSpacing(16)
    bar.addWidget(summary, 1)
    return bar, day, summary
