"""Planlægning: a board of working days × bioanalysts with each route's stops, km and times;
the map of a day's routes; drag a visit to another bioanalyst or day, or move it by keyboard
(Alt+pil) or its context menu ("Flyt til…"); the core checks the constraints and the board
shows its answer; lock/unlock; "Fortryd" (Ctrl+Z) takes the last move or lock back unless it
was replied to, visited or billed since; "Optimér" in the background with progress
(planned/total), the best cost so far and Annullér; after every plan or re-plan a summary of
what moved and one click to print the route sheets and letters that changed; print route
sheets, citizen letters and replies. Every action confirms itself in the status bar.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, QMimeData, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui import fmt, icons
from ui.errors import show_info
from ui.map.widget import ROUTE_COLORS, MapRoute, MapStop, RouteMap
from ui.ops import Op
from ui.signals import emit_changed
from ui.widgets import ServiceView, title

MIME = "application/x-hjemmeprove-visit"
VISIT_ROLE = Qt.ItemDataRole.UserRole + 10
LOCKED_ROLE = Qt.ItemDataRole.UserRole + 11


def _stop_text(n: int, stop) -> str:
    when = fmt.clock(stop.arrival)
    # ≈: placed by its postcode only; the time is not to be promised without checking
    approx = "≈ " if stop.position_quality == "approximate" else ""
    return f"{n}. {when}  {approx}{stop.citizen_name}"


def _stop_tooltip(stop) -> str:
    w0, w1 = stop.window
    window = f"{fmt.clock(w0)}–{fmt.clock(w1)}" if w0 and w1 else "intet svar sendt"
    parts = [f"<b>{stop.citizen_name}</b> ({stop.cpr_masked})", stop.address,
             f"Ankomst {fmt.clock(stop.arrival)}, tidsvindue {window}",
             f"Delstrækning {fmt.num(stop.leg_km, 1)} km"]
    if stop.leg_ferry_minutes:
        parts.append(f"Færge {fmt.num(stop.leg_ferry_minutes, 0)} min ({stop.ferry_link})")
    if stop.ekg:
        parts.append("EKG")
    if stop.access_info:
        parts.append(f"Adgang: {stop.access_info}")
    if stop.locked:
        parts.append("Låst: svar er sendt, besøget bliver i sit tidsvindue")
    if stop.position_quality == "approximate":
        parts.append("≈ Position: omtrentlig (kun postnummer): tiden er usikker; bekræft "
                     "adressen, før svaret sendes")
    return "<br>".join(parts)


class StopList(QListWidget):
    """The stops of one route; visits can be dragged out and dropped on another route, or
    moved by keyboard: Alt+←/→ the day before/after, Alt+↑/↓ the bioanalyst above/below."""

    dropped = Signal(int, int, object)  # visit_id, analyst_id, day
    key_move = Signal(int, int, int)  # visit_id, bioanalyst step, day step
    menu_requested = Signal(object, object)  # this list, position

    KEYS = {Qt.Key.Key_Left: (0, -1), Qt.Key.Key_Right: (0, 1), Qt.Key.Key_Up: (-1, 0),
            Qt.Key.Key_Down: (1, 0)}

    def __init__(self, analyst_id: int, day: dt.date, parent=None):
        super().__init__(parent)
        self.analyst_id = analyst_id
        self.day = day
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(lambda pos: self.menu_requested.emit(self, pos))

    def keyPressEvent(self, event) -> None:
        step = self.KEYS.get(event.key())
        item = self.currentItem()
        if (step is not None and event.modifiers() & Qt.KeyboardModifier.AltModifier
                and item is not None and item.data(VISIT_ROLE) is not None):
            event.accept()
            self.key_move.emit(int(item.data(VISIT_ROLE)), step[0], step[1])
            return
        super().keyPressEvent(event)

    def startDrag(self, actions) -> None:
        item = self.currentItem()
        if item is None or item.data(VISIT_ROLE) is None:
            return
        mime = QMimeData()
        mime.setData(MIME, str(item.data(VISIT_ROLE)).encode())
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.exec(Qt.DropAction.MoveAction)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasFormat(MIME):
            event.ignore()
            return
        visit_id = int(bytes(event.mimeData().data(MIME)).decode())
        event.setDropAction(Qt.DropAction.IgnoreAction)  # the board reloads from the core
        event.accept()
        self.dropped.emit(visit_id, self.analyst_id, self.day)


class RouteCard(QFrame):
    """One bioanalyst's day: header with km and times, and the stops."""

    def __init__(self, analyst, day: dt.date, route, color: str, absent: bool, parent=None):
        super().__init__(parent)
        self.route = route
        self.setObjectName("routeCard")
        self.setStyleSheet(f"#routeCard {{ background: white; border: 1px solid #d0d5dd; "
                           f"border-top: 3px solid {color}; border-radius: 3px; }}")
        v = QVBoxLayout(self)
        v.setContentsMargins(6, 4, 6, 4)
        v.setSpacing(2)
        if route is not None:
            first = next((s.arrival for s in route.stops if s.arrival), None)
            head = (f"<b>{len(route.stops)} besøg</b> · {fmt.num(route.km, 1)} km · "
                    f"{route.minutes // 60}:{route.minutes % 60:02d} t")
            if route.ferry_minutes:
                head += f" · færge {fmt.num(route.ferry_minutes, 0)} min"
            sub = f"Første ankomst {fmt.clock(first)}" if first else ""
            if route.closed:
                sub += " · afsluttet"
        else:
            head = "<i>fravær</i>" if absent else "<span style='color:#999'>ingen rute</span>"
            sub = ""
        self.header = QLabel(head)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        v.addWidget(self.header)
        if sub:
            s = QLabel(sub)
            s.setStyleSheet("color: #666; font-size: 11px;")
            v.addWidget(s)
        self.stops = StopList(analyst.id, day)
        if route is not None:
            for n, stop in enumerate(route.stops, start=1):
                item = QListWidgetItem(_stop_text(n, stop))
                item.setData(VISIT_ROLE, stop.visit_id)
                item.setToolTip(_stop_tooltip(stop))
                if stop.locked:
                    item.setIcon(icons.lock_icon())
                    item.setData(LOCKED_ROLE, True)
                if stop.outcome:
                    item.setForeground(QColor("#777"))
                self.stops.addItem(item)
        rows = max(2, self.stops.count())
        self.stops.setFixedHeight(min(rows, 12) * 19 + 6)
        v.addWidget(self.stops)
        if absent:
            self.setStyleSheet(self.styleSheet() + " #routeCard { background: #f3f3f3; }")


class PlanningView(ServiceView):
    areas = {"planning", "requests", "settings", "day_close"}

    def __init__(self, app, parent=None, today: dt.date | None = None):
        super().__init__(parent)
        self.app = app
        self.today = today or dt.date.today()
        self.routes = []
        self.analysts = []
        self.absences = []
        self.days: list[dt.date] = []
        self.cards: dict[tuple[int, dt.date], RouteCard] = {}
        self.last_move = None
        self.last_plan = None
        self.time_limit_s: float | None = None  # None: the core's default
        lay = QVBoxLayout(self)
        lay.addWidget(title("Planlægning", "Ruter pr. hverdag og bioanalytiker. Træk et besøg til "
                                           "en anden bioanalytiker eller dag; hold musen over et "
                                           "besøg for detaljer."))
        self.planning = app.planning
        bar = QHBoxLayout()
        self.first = QDateEdit()
        self.first.setCalendarPopup(True)
        self.first.setDisplayFormat("dd.MM.yyyy")
        start = self.today
        self.first.setDate(QDate(start.year, start.month, start.day))
        self.n_days = QSpinBox()
        self.n_days.setRange(1, 15)
        self.n_days.setValue(5)
        self.n_days.setSuffix(" hverdage")
        prev_b = QToolButton(text="◀")
        next_b = QToolButton(text="▶")
        prev_b.setToolTip("Forrige uge")
        next_b.setToolTip("Næste uge")
        prev_b.clicked.connect(lambda: self._shift(-7))
        next_b.clicked.connect(lambda: self._shift(7))
        self.optimize_button = QPushButton("Optimér")
        self.optimize_button.setToolTip("Planlæg de åbne henvisninger i perioden (låste besøg "
                                        "bliver i deres tidsvindue)")
        self.lock_button = QPushButton("Lås")
        self.unlock_button = QPushButton("Lås op")
        self.undo_button = QPushButton("Fortryd")
        self.undo_button.setToolTip("Fortryd den seneste flytning eller låsning (Ctrl+Z)")
        self.undo_button.setEnabled(False)
        self.undo_stack: list[tuple] = []  # (kind, data, Danish description)
        self.last_status = ""
        self.replies_button = QPushButton("Send svar…")
        self.replies_button.setToolTip("Svar til kommunerne med dato og tidsvindue; låser "
                                       "besøgene")
        self.print_button = QPushButton("Udskriv")
        menu = QMenu(self)
        menu.addAction("Rutesedler", lambda: self.print_documents("route_sheets"))
        menu.addAction("Borgerbreve", lambda: self.print_documents("letters"))
        menu.addAction("Svar til kommuner", lambda: self.print_documents("replies"))
        menu.addAction("Send svar igen (genskab sendte)", lambda: self.send_replies(again=True))
        self.print_button.setMenu(menu)
        for w in (QLabel("Fra:"), self.first, prev_b, next_b, self.n_days):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.undo_button, self.lock_button, self.unlock_button, self.replies_button,
                  self.print_button, self.optimize_button):
            bar.addWidget(w)
        lay.addLayout(bar)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        lay.addWidget(self.message)
        # what the newest plan or re-plan changed, and what to print again
        self.summary = QFrame()
        self.summary.setStyleSheet("QFrame { background: #fff8e1; border-radius: 3px; }")
        sl = QHBoxLayout(self.summary)
        sl.setContentsMargins(6, 4, 6, 4)
        self.summary_text = QLabel()
        self.summary_text.setWordWrap(True)
        self.summary_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        sl.addWidget(self.summary_text, 1)
        self.reprint_button = QPushButton("Udskriv ændrede…")
        self.reprint_button.setToolTip("Rutesedler og borgerbreve, der er ændret af "
                                       "omlægningen: vis, udskriv eller gem som PDF")
        self.reprint_button.clicked.connect(lambda: self.print_changed())
        sl.addWidget(self.reprint_button, 0, Qt.AlignmentFlag.AlignTop)
        close = QToolButton(text="✕")
        close.setToolTip("Skjul oversigten")
        close.clicked.connect(self.summary.hide)
        sl.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.summary.hide()
        self.shown_changes = None  # the PlanResult whose summary is shown
        lay.addWidget(self.summary)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.board_area = QScrollArea()
        self.board_area.setWidgetResizable(True)
        self.board = QWidget()
        self.grid = QGridLayout(self.board)
        self.grid.setSpacing(6)
        self.board_area.setWidget(self.board)
        split.addWidget(self.board_area)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        mh = QHBoxLayout()
        mh.addWidget(QLabel("Kort for:"))
        self.map_day = QComboBox()
        mh.addWidget(self.map_day, 1)
        for text, f in (("+", 1.25), ("−", 0.8)):
            b = QToolButton(text=text)
            b.clicked.connect(lambda _c=False, f=f: self.map.zoom(f))
            mh.addWidget(b)
        fit = QToolButton(text="Hele ruten")
        fit.clicked.connect(lambda: self.map.fit())
        mh.addWidget(fit)
        rv.addLayout(mh)
        self.map = RouteMap()
        rv.addWidget(self.map, 1)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        rv.addWidget(self.legend)
        self.unplanned_label = QLabel()
        self.unplanned_label.setWordWrap(True)
        self.unplanned_label.setStyleSheet("color: #b71c1c;")
        rv.addWidget(self.unplanned_label)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 460])
        self.splitter = split
        lay.addWidget(split, 1)

        self.first.dateChanged.connect(self.reload)
        self.n_days.valueChanged.connect(self.reload)
        self.map_day.currentIndexChanged.connect(self._draw_map)
        self.optimize_button.clicked.connect(lambda: self.optimize())
        self.lock_button.clicked.connect(lambda: self.set_locked(True))
        self.unlock_button.clicked.connect(lambda: self.set_locked(False))
        self.replies_button.clicked.connect(lambda: self.send_replies())
        self.undo_button.clicked.connect(lambda: self.undo())
        self.undo_shortcut = QShortcut(QKeySequence.StandardKey.Undo, self)
        self.undo_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.undo_shortcut.activated.connect(lambda: self.undo())

    # --- period -----------------------------------------------------------------------------

    def _shift(self, days: int) -> None:
        self.first.setDate(self.first.date().addDays(days))

    def period(self) -> tuple[dt.date, dt.date]:
        first = self.first.date().toPython()
        cal = self._calendar
        days = []
        d = first
        while len(days) < self.n_days.value() and (d - first).days < 60:
            if cal.is_working_day(d):
                days.append(d)
            d += dt.timedelta(days=1)
        self.days = days
        return (days[0], days[-1]) if days else (first, first)

    def set_period(self, first: dt.date, n_days: int) -> None:
        self.n_days.blockSignals(True)
        self.n_days.setValue(n_days)
        self.n_days.blockSignals(False)
        self.first.setDate(QDate(first.year, first.month, first.day))

    # --- loading ----------------------------------------------------------------------------

    def reload(self) -> None:
        self._calendar = self.app.calendar()
        first, last = self.period()
        planning, admin = self.planning, self.app.admin

        def work():
            depts = admin.list_departments()
            return (planning.routes(first, last), admin.list_bioanalysts(active_only=True),
                    admin.list_absences(), depts[0] if depts else None)

        self._generation = getattr(self, "_generation", 0) + 1
        gen = self._generation
        Op(self, work).success(lambda res: self._loaded_data(res) if gen == self._generation
                               else None).run_in_background()

    def _loaded_data(self, result) -> None:
        self.routes, self.analysts, self.absences, self.department = result
        self._build_board()
        newest = getattr(self.planning, "last_replan", None)
        if newest is not None and newest is not self.shown_changes:
            self.show_changes(newest)  # a re-plan made elsewhere (absence, cancellation)
        from ui.views.contact import flag_not_reached  # Kontakt: citizens not reached
        flag_not_reached(self, VISIT_ROLE)
        current = self.map_day.currentData()
        self.map_day.blockSignals(True)
        self.map_day.clear()
        for d in self.days:
            n = sum(len(r.stops) for r in self.routes if r.date == d)
            self.map_day.addItem(f"{fmt.WEEKDAYS_DA[d.weekday()]} {fmt.date(d)} ({n} besøg)", d)
        i = self.map_day.findData(current) if current else -1
        if i < 0:  # the first day with routes
            i = next((k for k, d in enumerate(self.days)
                      if any(r.date == d for r in self.routes)), 0)
        self.map_day.setCurrentIndex(i)
        self.map_day.blockSignals(False)
        self._draw_map()

    def _absent(self, analyst_id: int, day: dt.date) -> bool:
        return any(a.bioanalyst_id == analyst_id and a.start <= day <= a.end
                   for a in self.absences)

    def _build_board(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.cards = {}
        by_key = {(r.analyst_id, r.date): r for r in self.routes}
        for c, day in enumerate(self.days):
            head = QLabel(f"<b>{fmt.WEEKDAYS_DA[day.weekday()].capitalize()}</b> "
                          f"{fmt.date(day)}")
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.grid.addWidget(head, 0, c + 1)
        for r, analyst in enumerate(self.analysts):
            color = ROUTE_COLORS[r % len(ROUTE_COLORS)]
            name = QLabel(f"<b>{analyst.name}</b><br><span style='color:#666'>"
                          f"{fmt.clock(analyst.day_start)}–{fmt.clock(analyst.day_end)}"
                          f"{' · ' + analyst.skills if analyst.skills else ''}</span>")
            name.setStyleSheet(f"border-left: 4px solid {color}; padding-left: 4px;")
            name.setFixedWidth(130)
            name.setWordWrap(True)
            self.grid.addWidget(name, r + 1, 0, Qt.AlignmentFlag.AlignTop)
            for c, day in enumerate(self.days):
                card = RouteCard(analyst, day, by_key.get((analyst.id, day)), color,
                                 self._absent(analyst.id, day))
                card.setMinimumWidth(205)
                card.stops.dropped.connect(self.move_visit)
                card.stops.key_move.connect(self.move_by_key)
                card.stops.menu_requested.connect(self._popup_menu)
                card.stops.itemClicked.connect(lambda _i, d=day: self._select_day(d))
                self.grid.addWidget(card, r + 1, c + 1, Qt.AlignmentFlag.AlignTop)
                self.cards[(analyst.id, day)] = card
        self.grid.setRowStretch(len(self.analysts) + 1, 1)
        self.grid.setColumnStretch(len(self.days) + 1, 1)
        total_km = sum(r.km for r in self.routes)
        n = sum(len(r.stops) for r in self.routes)
        self.legend.setText(f"{len(self.routes)} ruter, {n} besøg, {fmt.num(total_km, 1)} km i "
                            "perioden. Stiplet linje = færge. Gul firkant = laboratoriet.")

    def _select_day(self, day: dt.date) -> None:
        i = self.map_day.findData(day)
        if i >= 0:
            self.map_day.setCurrentIndex(i)

    def _draw_map(self) -> None:
        day = self.map_day.currentData()
        lab = None
        if self.department is not None:
            lab = (self.department.lab_lat, self.department.lab_lon)
        colors = {a.id: ROUTE_COLORS[i % len(ROUTE_COLORS)] for i, a in
                  enumerate(self.analysts)}
        routes = []
        for r in self.routes:
            if r.date != day:
                continue
            stops = [MapStop(s.lat, s.lon, str(n), f"{r.analyst}: {n}. "
                             f"{fmt.clock(s.arrival)} {s.citizen_name}, {s.address}",
                             ferry_leg=bool(s.leg_ferry_minutes))
                     for n, s in enumerate(r.stops, start=1) if s.lat is not None]
            ferry_home = bool(r.ferry_minutes) and sum(
                (s.leg_ferry_minutes for s in r.stops), start=0) < r.ferry_minutes
            routes.append(MapRoute(r.analyst, stops, ferry_home, colors.get(r.analyst_id, "")))
        self.map.show_routes(lab, routes)

    def selected_visit(self):
        for (analyst_id, day), card in self.cards.items():
            item = card.stops.currentItem()
            if item is not None and card.stops.hasFocus() or (
                    item is not None and item.isSelected()):
                return item.data(VISIT_ROLE)
        return None

    # --- actions ----------------------------------------------------------------------------

    def show_message(self, text: str, error: bool = False) -> None:
        color = "#b71c1c" if error else "#1b5e20"
        bg = "#fdecea" if error else "#e8f5e9"
        self.message.setStyleSheet(f"color: {color}; background: {bg}; padding: 6px; "
                                   "border-radius: 3px;")
        self.message.setText(text)
        self.message.show()

    def status(self, text: str) -> None:
        """Confirms an action in the window's status bar (and keeps it for tests)."""
        self.last_status = text
        win = self.window()
        bar = getattr(win, "statusBar", None)
        if callable(bar):
            bar().showMessage(text, 15000)

    def _where(self, visit_id: int):
        """(analyst id, day, stop) of a visit on the board, or None."""
        for r in self.routes:
            for st in r.stops:
                if st.visit_id == visit_id:
                    return r.analyst_id, r.date, st
        return None

    def move_target(self, visit_id: int, analyst_step: int, day_step: int):
        """The bioanalyst and day one step from the visit's place on the board, or None."""
        where = self._where(visit_id)
        if where is None:
            return None
        aid, day, _st = where
        ids = [a.id for a in self.analysts]
        if aid not in ids or day not in self.days:
            return None
        i, j = ids.index(aid) + analyst_step, self.days.index(day) + day_step
        if not (0 <= i < len(ids) and 0 <= j < len(self.days)):
            return None
        return ids[i], self.days[j]

    def move_by_key(self, visit_id: int, analyst_step: int, day_step: int) -> None:
        target = self.move_target(visit_id, analyst_step, day_step)
        if target is None:
            self.status("Der er ingen bioanalytiker eller dag i den retning på tavlen.")
            return
        self.move_visit(visit_id, *target)

    def context_menu(self, stops: StopList, item) -> QMenu:
        """The visit's menu: "Flyt til…" every other bioanalyst and day on the board, lock or
        unlock, undo."""
        menu = QMenu(self)
        vid = item.data(VISIT_ROLE) if item is not None else None
        if vid is not None:
            vid = int(vid)
            move = menu.addMenu("Flyt til…")
            for a in self.analysts:
                for d in self.days:
                    if (a.id, d) == (stops.analyst_id, stops.day):
                        continue
                    act = move.addAction(f"{a.name} · {fmt.WEEKDAYS_DA[d.weekday()]} "
                                         f"{fmt.date(d)}")
                    act.triggered.connect(lambda _c=False, a=a.id, d=d:
                                          self.move_visit(vid, a, d))
            locked = bool(item.data(LOCKED_ROLE))
            lock = menu.addAction("Lås op" if locked else "Lås")
            lock.triggered.connect(lambda _c=False: self.set_locked(not locked, vid))
        undo = menu.addAction("Fortryd" + (f": {self.undo_stack[-1][2]}"
                                           if self.undo_stack else ""))
        undo.setEnabled(bool(self.undo_stack))
        undo.triggered.connect(lambda _c=False: self.undo())
        return menu

    def _popup_menu(self, stops: StopList, pos) -> None:
        self.context_menu_shown = self.context_menu(stops, stops.itemAt(pos))
        self.context_menu_shown.popup(stops.viewport().mapToGlobal(pos))

    def move_visit(self, visit_id: int, analyst_id: int, day) -> None:
        """Checks the move with the core; applies it only when no constraint is broken."""
        planning = self.planning

        def work():
            check = planning.move_visit(visit_id, analyst_id, day, apply=False)
            if check.ok:
                return planning.move_visit(visit_id, analyst_id, day, apply=True)
            return check

        Op(self, work).success(lambda res: self._moved(res, analyst_id, day)) \
            .run_in_background()

    def _moved(self, result, analyst_id: int, day) -> None:
        self.last_move = result
        who = next((a.name for a in self.analysts if a.id == analyst_id), "")
        if result.ok:
            text = f"Besøget er flyttet til {who} {fmt.date(day)}; begge ruter er lagt om."
            undo = getattr(result, "undo", None)
            if undo is not None:
                back = next((a.name for a in self.analysts if a.id == undo[1]), "")
                self._push_undo("move", undo, f"flytning tilbage til {back} "
                                              f"{fmt.date(undo[2])}")
                text += " Fortryd med Ctrl+Z."
            self.show_message(text)
            self.status(text)
            emit_changed("planning", "requests")
        else:
            self.show_message("Besøget kan ikke flyttes til "
                              f"{who} {fmt.date(day)}:<br>• " + "<br>• ".join(result.problems),
                              error=True)
            self.status(f"Ikke flyttet: {result.problems[0] if result.problems else ''}")

    def set_locked(self, locked: bool, vid: int | None = None) -> None:
        vid = self.selected_visit() if vid is None else vid
        if vid is None:
            self.show_message("Vælg et besøg på tavlen først.", error=True)
            self.status("Vælg et besøg på tavlen først.")
            return
        where = self._where(vid)
        was = where[2].locked if where is not None else not locked
        name = where[2].citizen_name if where is not None else "Besøget"

        def done(_r) -> None:
            if locked:
                text = (f"{name} er låst: besøget bliver på sin dag og i sit tidsvindue, når "
                        "der planlægges igen.")
            else:
                text = f"Låsen på {name} er fjernet: besøget kan flyttes ved næste planlægning."
            if was != locked:
                self._push_undo("lock", ([vid], was), ("låsning" if locked else "oplåsning")
                                + f" af {name}")
            self.show_message(text)
            self.status(text)
            emit_changed("planning", "requests")

        Op(self, lambda: self.planning.lock([vid], locked)).success(done).run_in_background()

    # --- undo -------------------------------------------------------------------------------

    def _push_undo(self, kind: str, data, text: str) -> None:
        self.undo_stack.append((kind, data, text))
        del self.undo_stack[:-20]
        self.undo_button.setEnabled(True)
        self.undo_button.setToolTip(f"Fortryd {text} (Ctrl+Z)")

    def undo(self) -> None:
        """Takes the newest move or lock back, through the core (audited; refused with the
        reason once replied to, visited or billed)."""
        if not self.undo_stack:
            self.status("Der er intet at fortryde.")
            return
        kind, data, text = self.undo_stack.pop()
        self.undo_button.setEnabled(bool(self.undo_stack))
        planning = self.planning
        if kind == "move":
            work = lambda: planning.undo_move(data)  # noqa: E731
        else:
            work = lambda: planning.undo_lock(*data)  # noqa: E731
        Op(self, work).success(lambda res: self._undone(res, text)).run_in_background()

    def _undone(self, result, text: str) -> None:
        self.last_undo = result
        if result.ok:
            msg = f"Fortrudt: {text}."
            self.show_message(msg)
            emit_changed("planning", "requests")
        else:
            msg = "Kan ikke fortrydes: " + "; ".join(result.problems)
            self.show_message(msg, error=True)
        self.status(msg)

    def optimize(self) -> None:
        first, last = self.period()
        planning = self.planning
        limit = self.time_limit_s
        settings = self.app.settings

        def work(progress):
            limit_shown = limit
            if limit_shown is None:  # the core's default, from its settings
                try:
                    limit_shown = float(settings.get("planning.time_limit_s"))
                except (KeyError, TypeError, ValueError):
                    limit_shown = None

            def report(info: dict) -> None:
                best = info.get("objective_kr")
                if best is None and info.get("objective") is not None:
                    best = info["objective"] / 100  # øre
                text = (f"Optimerer {fmt.date(first)}–{fmt.date(last)}…\n"
                        f"Løsninger fundet: {info.get('solutions', 0)}")
                if best is not None:
                    text += f"\nBedste omkostning indtil nu: {fmt.kr(round(best, 2))}"
                seconds = info.get("seconds", 0) or 0
                if info.get("total"):  # the bar shows the visits planned of all
                    text += f"\nPlanlagt: {info.get('planned', 0)} af {info['total']} besøg"
                    progress.update(int(info.get("planned") or 0), int(info["total"]), text)
                elif limit_shown:  # the bar fills over the time limit
                    progress.update(min(int(seconds * 10), int(limit_shown * 10)),
                                    int(limit_shown * 10), text)
                else:
                    progress.update(0, 0, text)

            extra = {} if limit is None else {"time_limit_s": limit}
            return planning.plan(first, last, progress=report, cancel_event=progress.event,
                                 **extra)

        self.optimize_button.setEnabled(False)
        self.optimize_op = Op(self, work).with_progress("Optimerer ruterne…", cancellable=True) \
            .success(self._planned).finally_(lambda: self.optimize_button.setEnabled(True)) \
            .run_in_background()

    def _planned(self, result) -> None:
        self.last_plan = result
        n = sum(len(r.stops) for r in result.routes)
        text = (f"Optimeret: {len(result.routes)} ruter, {n} besøg, "
                f"{fmt.num(sum(r.km for r in result.routes), 1)} km; omkostning "
                f"{fmt.kr(result.objective_kr)} ({result.solutions} løsninger, "
                f"{fmt.num(result.seconds, 1)} s, {result.status}).")
        if result.unplanned:
            text += (f"<br><b>{len(result.unplanned)} henvisninger kunne ikke planlægges:</b> "
                     + "; ".join(f"nr. {u.request_id}: {u.reason}"
                                 for u in result.unplanned[:8]))
        skipped = getattr(result, "skipped", [])
        if skipped:  # changed by someone else while the plan was computed: left as they are
            text += (f"<br><b>{len(skipped)} henvisninger blev ændret undervejs og er ikke "
                     "ændret af planen:</b> "
                     + "; ".join(f"nr. {u.request_id}: {u.reason}" for u in skipped[:8]))
        warnings = getattr(result, "warnings", ())
        if warnings:  # approximate positions: their times are not to be promised unchecked
            text += (f"<br><b>{len(warnings)} besøg har omtrentlig position (≈)</b>: bekræft "
                     "adressen, før svaret sendes.")
        self.show_message(text, error=bool(result.unplanned or skipped))
        self.unplanned_label.setText(
            "" if not result.unplanned else f"{len(result.unplanned)} uplanlagte – se "
                                            "beskeden øverst.")
        self.show_changes(result)
        self.status(f"Optimeret: {n} besøg på {len(result.routes)} ruter"
                    + (f", {len(result.unplanned)} uplanlagte" if result.unplanned else "")
                    + ".")
        emit_changed("planning", "requests")

    def show_changes(self, result) -> None:
        """The summary of what a plan or re-plan changed: moves (from → to), the days that
        changed, and what to print again."""
        self.shown_changes = result
        changes = getattr(result, "changes", None)
        if changes is None:
            self.summary.hide()
            return
        head = ("Omlægning" if getattr(result, "mode", "") == "repair" else "Optimering") \
            + f" {fmt.date(result.first)}–{fmt.date(result.last)}"
        from html import escape

        lines = [escape(x) for x in changes.lines()]
        shown = lines[:1] + [f"• {x}" for x in lines[1:14]]
        if len(lines) > 14:
            shown.append(f"… og {len(lines) - 14} linjer mere")
        unplanned = getattr(result, "unplanned", [])
        if unplanned:  # the reasons name the rule and the way out (planning/reasons.py)
            shown.append(f"<b>{len(unplanned)} henvisninger kunne ikke planlægges:</b>")
            shown += [f"• nr. {u.request_id}: {escape(u.reason)}" for u in unplanned[:6]]
        self.summary_text.setText(f"<b>{head}</b><br>" + "<br>".join(shown))
        self.reprint_button.setEnabled(bool(changes.route_sheets or changes.letters))
        self.summary.show()

    def print_changed(self) -> None:
        """One click: the route sheets and letters the newest re-plan changed, shown to print
        or save (the core's documents)."""
        from ui import printing

        result = self.shown_changes
        changes = getattr(result, "changes", None)
        if changes is None or not (changes.route_sheets or changes.letters):
            self.status("Der er intet at udskrive igen.")
            return
        planning = self.planning
        keys = {(d, aid) for d, aid, _n in changes.route_sheets}
        first, last = result.first, result.last
        visit_ids = list(changes.letters)

        def work():
            from hjemmeprove.documents import citizen_letter

            routes = [r for r in planning.routes(first, last) if (r.date, r.analyst_id) in keys]
            docs = printing.route_sheet_pdfs(planning, routes)
            letters = planning.letters(first, last, visit_ids=visit_ids) if visit_ids else []
            if letters:
                docs.append((f"{len(letters)} borgerbreve", f"borgerbreve-{first}-aendrede.pdf",
                             citizen_letter.render_many(letters)))
            return docs

        def shown(docs) -> None:
            self.changed_documents = docs
            self._show_documents("Udskriv ændrede", docs)
            self.status(f"{len(docs)} dokumenter klar til udskrift: rutesedler og borgerbreve, "
                        "der er ændret.")

        Op(self, work).success(shown).run_in_background()

    # the folder the reply files go to before a reply is recorded as sent (None: the user's
    # data folder, "svar")
    reply_folder: str | None = None

    def _reply_folder(self):
        from pathlib import Path

        from hjemmeprove import paths

        return Path(self.reply_folder) if self.reply_folder else paths.data_dir() / "svar"

    def send_replies(self, again: bool = False) -> None:
        """The reply files are written first (whole, to the reply folder); only then are the
        visits recorded as replied to and locked. ``again`` ("Send igen") re-creates the
        replies already sent in the period."""
        first, last = self.period()
        folder = self._reply_folder()
        Op(self, lambda: self.planning.send_replies(first, last, out_dir=folder, again=again)) \
            .success(lambda rows: self._replies_sent(rows, again)).run_in_background()

    def _replies_sent(self, rows, again: bool = False) -> None:
        self.last_replies = rows
        emit_changed("planning", "requests")
        if not rows:
            show_info(self, "Svar", "Der er ingen sendte svar i perioden." if again else
                      "Der er ingen nye besøg at svare på i perioden.")
            return
        files = getattr(rows, "files", {}) or {}
        self.status(f"{len(rows)} svar {'genskabt' if again else 'sendt; besøgene er låst'}.")
        if files:
            self.show_message(f"{len(rows)} svar {'genskabt' if again else 'sendt og låst'}; "
                              f"filerne ligger i {self._reply_folder()}.")
        self.print_documents("replies")

    def print_documents(self, kind: str) -> None:
        """Route sheets (the day on the map), letters (the period) or the replies sent."""
        from ui import printing

        first, last = self.period()
        day = self.map_day.currentData() or first
        planning = self.planning
        titles = {"route_sheets": f"Rutesedler {fmt.date(day)}",
                  "letters": f"Borgerbreve {fmt.date(first)}–{fmt.date(last)}",
                  "replies": "Svar til kommuner"}
        routes = [r for r in self.routes if r.date == day]
        rows = getattr(self, "last_replies", None)
        if kind == "route_sheets" and not routes:
            show_info(self, titles[kind], "Der er ingen ruter den valgte dag.")
            return
        if kind == "replies" and not rows:
            show_info(self, titles[kind], "Send svar først (knappen Send svar…); de sendte "
                                          "svar kan derefter udskrives.")
            return

        def work():
            return printing.documents(kind, planning, routes, first, last, rows)

        Op(self, work).success(lambda res: self._show_documents(titles[kind], res)) \
            .run_in_background()

    def _show_documents(self, title_text: str, content) -> None:
        from ui import printing

        if not content:
            show_info(self, title_text, "Der er ingen planlagte besøg i perioden.")
        else:
            self.document_dialog = printing.show_pdfs(self, title_text, content)
            self.status(f"{title_text}: {len(content)} dokument(er) klar til udskrift.")

    def save_layout(self, s, key: str) -> None:
        if hasattr(self, "splitter"):
            s.setValue(f"{key}/splitter", self.splitter.saveState())

    def restore_layout(self, s, key: str) -> None:
        state = s.value(f"{key}/splitter")
        if state is not None and hasattr(self, "splitter"):
            self.splitter.restoreState(state)


