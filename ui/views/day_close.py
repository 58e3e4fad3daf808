"""Dagsafslutning: per route the km driven and ferry minutes, per visit its outcome; what is
still missing shows at a glance (today's routes and earlier days with gaps).

Reading uses the planning service's routes (plain RouteInfo); saving a route is one call to
the day-close service (DayCloseService.close_route: all of it in one transaction, or nothing)
when it is there.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hjemmeprove.domain.labels import DRIVEN_OUTCOMES, outcome_label
from hjemmeprove.errors import ValidationError
from ui import fmt
from ui.errors import show_error
from ui.models.table import ROW_ROLE, Column, RowTableModel
from ui.ops import Op
from ui.signals import emit_changed
from ui.widgets import (
    DayNavigation,
    ServiceView,
    SortProxy,
    confirm,
    day_bar,
    error_label,
    table_view,
    title,
)

OUTCOMES = [(None, "— mangler —")] + [(code, outcome_label(code)) for code in DRIVEN_OUTCOMES]
LOOKBACK_DAYS = 45


def _ask(parent, title_: str, text: str) -> bool:
    """A yes/no question (tests replace the view's ``ask``)."""
    return confirm(parent, title_, text)


def missing_visits(route) -> int:
    return sum(1 for s in route.stops if not s.outcome)


def route_state(route) -> str:
    if route.closed:
        return "Afsluttet"
    gaps = []
    if route.driven_km is None:
        gaps.append("km")
    n = missing_visits(route)
    if n:
        gaps.append(f"{n} udfald")
    return "Mangler " + " og ".join(gaps) if gaps else "Klar"


ROUTE_COLUMNS = [
    Column("Bioanalytiker", lambda r: r.analyst),
    Column("Status", route_state,
           color=lambda r: "#2e7d32" if route_state(r) in ("Klar", "Afsluttet") else "#c62828"),
    Column("Besøg", lambda r: str(len(r.stops)), sort=lambda r: len(r.stops), right=True),
    Column("Planlagt km", lambda r: fmt.num(r.km, 1), sort=lambda r: r.km, right=True),
    Column("Kørt km", lambda r: fmt.num(r.driven_km, 1) if r.driven_km is not None else "—",
           sort=lambda r: r.driven_km, right=True,
           color=lambda r: "#c62828" if r.driven_km is None and not r.closed else None),
    Column("Færge plan.", lambda r: fmt.num(r.ferry_minutes, 0) if r.ferry_minutes else "",
           sort=lambda r: r.ferry_minutes, right=True),
    Column("Færge kørt", lambda r: fmt.num(r.driven_ferry_minutes, 0)
           if r.driven_ferry_minutes is not None else "", sort=lambda r: r.driven_ferry_minutes,
           right=True),
]


class DayCloseView(DayNavigation, ServiceView):
    areas = {"planning", "day_close"}

    def __init__(self, app, parent=None, today: dt.date | None = None):
        super().__init__(parent)
        self.app = app
        self.today = today or dt.date.today()
        self.routes = []
        self.route = None
        self.ask = lambda title_, text: _ask(self, title_, text)
        lay = QVBoxLayout(self)
        lay.addWidget(title("Dagsafslutning", "Kørte km (kilometertæller) og færgeminutter pr. "
                                              "rute, udfald pr. besøg. Indtil de er registreret, "
                                              "gælder de planlagte tal (markeret planlagt)."))
        self.planning = app.planning
        self.service = app.day_close
        bar, self.day, self.summary = day_bar("Dag:", self.today, self._step)
        lay.addLayout(bar)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.model = RowTableModel(ROUTE_COLUMNS)
        self.table = table_view(SortProxy(self.model, self))
        lv.addWidget(self.table, 4)
        back = QGroupBox(f"Tidligere dage med mangler (seneste {LOOKBACK_DAYS} dage)")
        bv = QVBoxLayout(back)
        self.backlog = QListWidget()
        bv.addWidget(self.backlog)
        lv.addWidget(back, 1)
        split.addWidget(left)

        right = QGroupBox("Rute")
        rv = QVBoxLayout(right)
        form = QFormLayout()
        self.km = QLineEdit()
        self.km.setPlaceholderText("fx 84,3")
        self.ferry = QLineEdit()
        self.ferry.setPlaceholderText("0")
        self.planned_hint = QLabel()
        self.planned_hint.setStyleSheet("color: #666;")
        form.addRow("Kørt km (kilometertæller)", self.km)
        form.addRow("Færgeminutter", self.ferry)
        form.addRow("", self.planned_hint)
        rv.addLayout(form)
        self.visits = QTableWidget(0, 4)
        self.visits.setHorizontalHeaderLabels(["#", "Borger", "Adresse", "Udfald"])
        self.visits.verticalHeader().setVisible(False)
        self.visits.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.visits.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        rv.addWidget(self.visits, 1)
        self.error = error_label()
        rv.addWidget(self.error)
        h = QHBoxLayout()
        self.all_taken = QPushButton("Alle taget")
        self.save_button = QPushButton("Gem (Ctrl+S)")
        self.all_taken.clicked.connect(self._all_taken)
        self.save_button.clicked.connect(lambda: self.save())
        self.ferry_button = QPushButton("Færgetid til valgt besøg")
        self.ferry_button.setToolTip("Rutens færgeminutter, som intet besøg forklarer, hører til "
                                     "det valgte besøg (eller ret færgeminutterne og gem)")
        self.ferry_button.setEnabled(False)
        self.ferry_button.clicked.connect(lambda: self.resolve_ferry())
        h.addWidget(self.all_taken)
        h.addWidget(self.ferry_button)
        h.addStretch(1)
        h.addWidget(self.save_button)
        rv.addLayout(h)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.splitter = split
        lay.addWidget(split, 1)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=lambda: self.save(),
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)

        self.day.dateChanged.connect(self.reload)
        self.table.selectionModel().currentRowChanged.connect(self._route_selected)
        self.backlog.itemActivated.connect(self._goto_backlog)
        self.backlog.itemClicked.connect(self._goto_backlog)

    # --- loading ----------------------------------------------------------------------------

    def reload(self) -> None:
        day = self.current_day()
        today = self.today
        planning = self.planning

        service = self.service

        def work():
            routes = planning.routes(day, day)
            past = planning.routes(today - dt.timedelta(days=LOOKBACK_DAYS),
                                   min(today, day + dt.timedelta(days=LOOKBACK_DAYS)))
            ferry = ([m for m in service.status(day).missing if m.kind == "ferry"]
                     if service is not None and hasattr(service, "status") else [])
            return routes, past, ferry

        self._generation = getattr(self, "_generation", 0) + 1
        gen = self._generation
        Op(self, work).success(lambda res: self._loaded_data(res) if gen == self._generation
                               else None).run_in_background()

    def _loaded_data(self, result) -> None:
        routes, past, ferry = result
        self.ferry_problems = {m.route_id: m for m in ferry}
        keep = self.route.route_id if self.route is not None else None
        self.routes = routes
        self.model.set_rows(routes)
        self.table.resizeColumnsToContents()
        no_km = sum(1 for r in routes if r.driven_km is None and not r.closed)
        no_outcome = sum(missing_visits(r) for r in routes)
        if not routes:
            self.summary.setText("<span style='color:#666'>Ingen ruter denne dag.</span>")
        elif no_km or no_outcome:
            self.summary.setText(
                f"<span style='color:#c62828'><b>Mangler:</b> {no_km} rute(r) uden kørte km, "
                f"{no_outcome} besøg uden udfald</span>")
        elif not ferry:
            self.summary.setText("<span style='color:#2e7d32'><b>Alt er registreret</b> for "
                                 "dagen.</span>")
        if ferry:
            self.summary.setText(self.summary.text() + "<br><span style='color:#c62828'>"
                                 + "<br>".join(m.text for m in ferry) + "</span>")
        # earlier days with gaps (the day being today or in the past)
        gaps: dict[dt.date, list[int]] = {}
        for r in past:
            if r.date >= self.today or r.closed:
                continue
            if r.driven_km is None or missing_visits(r):
                g = gaps.setdefault(r.date, [0, 0])
                g[0] += r.driven_km is None
                g[1] += missing_visits(r)
        self.backlog.clear()
        for d in sorted(gaps, reverse=True):
            km, out = gaps[d]
            item = QListWidgetItem(f"{fmt.WEEKDAYS_DA[d.weekday()]} {fmt.date(d)}: "
                                   f"{km} rute(r) uden km, {out} besøg uden udfald")
            item.setData(Qt.ItemDataRole.UserRole, d)
            self.backlog.addItem(item)
        if not gaps:
            self.backlog.addItem("Ingen mangler på tidligere dage.")
        row = next((i for i, r in enumerate(routes) if r.route_id == keep), 0)
        if routes:
            self.table.selectRow(row)
            self._route_selected(self.table.currentIndex(), None)
        else:
            self._show_route(None)

    def _goto_backlog(self, item) -> None:
        d = item.data(Qt.ItemDataRole.UserRole)
        if d:
            self.set_day(d)

    def _route_selected(self, current, _prev) -> None:
        self._show_route(current.data(ROW_ROLE) if current.isValid() else None)

    def _show_route(self, route) -> None:
        self.route = route
        self.error.hide()
        self.ferry_button.setEnabled(bool(route is not None and
                                          route.route_id in getattr(self, "ferry_problems", {})))
        self.visits.setRowCount(0)
        if route is None:
            self.km.clear()
            self.ferry.clear()
            self.planned_hint.setText("")
            return
        self.km.setText(fmt.num(route.driven_km, 1) if route.driven_km is not None else "")
        self.ferry.setText(fmt.num(route.driven_ferry_minutes, 0)
                           if route.driven_ferry_minutes is not None else "")
        self.planned_hint.setText(f"Planlagt: {fmt.num(route.km, 1)} km, "
                                  f"{fmt.num(route.ferry_minutes, 0)} færgeminutter")
        self.visits.setRowCount(len(route.stops))
        for i, s in enumerate(route.stops):
            self.visits.setItem(i, 0, QTableWidgetItem(str(i + 1)))
            self.visits.setItem(i, 1, QTableWidgetItem(s.citizen_name))
            self.visits.setItem(i, 2, QTableWidgetItem(s.address))
            combo = QComboBox()
            for value, text in OUTCOMES:
                combo.addItem(text, value)
            combo.setCurrentIndex(max(combo.findData(s.outcome), 0))
            self.visits.setCellWidget(i, 3, combo)
        self.visits.resizeColumnToContents(0)
        self.visits.resizeColumnToContents(1)
        self.visits.resizeColumnToContents(3)

    def _all_taken(self) -> None:
        for i in range(self.visits.rowCount()):
            combo = self.visits.cellWidget(i, 3)
            if combo.currentData() is None:
                combo.setCurrentIndex(combo.findData("taken"))

    # --- saving -----------------------------------------------------------------------------

    def outcomes(self) -> dict[int, str | None]:
        return {s.visit_id: self.visits.cellWidget(i, 3).currentData()
                for i, s in enumerate(self.route.stops)}

    def _number(self, text: str, label: str) -> Decimal | None:
        text = text.strip().replace(".", "").replace(",", ".") if "," in text else text.strip()
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValidationError(f"'{text}' er ikke et tal", label) from None
        if value < 0:
            raise ValidationError("kan ikke være negativ", label)
        return value

    def save(self, confirm: bool = False) -> None:
        if self.route is None:
            return
        self.error.hide()
        try:
            km = self._number(self.km.text(), "kørt km")
            ferry = self._number(self.ferry.text(), "færgeminutter")
        except ValidationError as exc:
            self.error.setText("\n".join(str(e) for e in exc.errors))
            self.error.show()
            return
        route_id = self.route.route_id
        outcomes = self.outcomes()
        service = self.service
        # one call, one transaction: the outcomes, km and ferry minutes, or nothing at all
        Op(self, lambda: service.close_route(route_id, km, ferry, outcomes, confirm=confirm)) \
            .success(lambda _r: emit_changed("day_close", "planning", "billing", "requests")) \
            .failure(self._failed).run_in_background()

    def resolve_ferry(self, visit_id: int | None = None) -> None:
        """The route's unexplained ferry minutes belong to the selected visit."""
        if self.route is None:
            return
        if visit_id is None:
            row = self.visits.currentRow()
            if row < 0:
                self.error.setText("Vælg det besøg, færgeminutterne hører til")
                self.error.show()
                return
            visit_id = self.route.stops[row].visit_id
        route_id, service = self.route.route_id, self.service
        Op(self, lambda: service.resolve_ferry(route_id, visit_id)) \
            .success(lambda _r: emit_changed("day_close", "billing")) \
            .failure(self._failed).run_in_background()

    def _failed(self, exc) -> None:
        from hjemmeprove.services.day_close import KmNeedsConfirmation

        if isinstance(exc, KmNeedsConfirmation):
            text = "\n".join(e.message.replace(" (--bekraeft)", "") for e in exc.errors)
            if self.ask("Kørte km", f"{text}.\n\nEr tallet rigtigt?"):
                self.save(confirm=True)
                return
        if isinstance(exc, ValidationError):
            self.error.setText("\n".join(str(e) for e in exc.errors))
            self.error.show()
        else:
            show_error(self, exc)

    def save_layout(self, s, key: str) -> None:
        if hasattr(self, "splitter"):
            s.setValue(f"{key}/splitter", self.splitter.saveState())

    def restore_layout(self, s, key: str) -> None:
        state = s.value(f"{key}/splitter")
        if state is not None and hasattr(self, "splitter"):
            self.splitter.restoreState(state)

