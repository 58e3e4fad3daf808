"""The main window: a navigation list for the day's work and one view per task.

The window paints first and opens the data after: it is built without the database (no
SQLAlchemy, no ORM, no query), shows "Henter …" where the view will be, and once it has
painted it opens the App off the GUI thread (the database's migration included, ``open_app``),
asks whether the database is empty and imports the first view's core modules; then it builds
that view, which loads its rows in the background as every view does. Nothing is shown from
the database or written to it before the App has opened, and an error in opening reaches the
user as the usual Danish dialog (``failed``).

A view is built the first time it is shown (``Views``), and a module a view needs (the
planner's OR-Tools, QtCharts, QtPdf) is imported when that view is opened. An empty database
gets a start page instead of the views: demo data or the department's own set-up, chosen on
purpose; a demo database wears a DEMO banner."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable, Mapping

from PySide6.QtCore import QByteArray, QLocale, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui import errors, icons, ops
from ui.ops import Op, Progress

log = logging.getLogger("hjemmeprove.ui")

QLocale.setDefault(QLocale(QLocale.Language.Danish, QLocale.Country.Denmark))

TITLE = "Hjemmeprøve – blodprøvetagning i eget hjem"
DEMO_MARK = "DEMODATA"  # title and status bar of a database filled by ``hjemmeprove demo``
DEMO_BANNER = ("DEMO – opdigtede borgere, kommuner og takster. Ikke til rigtige henvisninger "
               "eller fakturaer.")

# Imported in the background once the window has painted, so that opening Planlægning (the
# planner and OR-Tools) or showing an amount (babel, reportlab) does not stall the window then.
WARM_UP = ("hjemmeprove.services.planning", "hjemmeprove.documents.common")
WARM_UP_AFTER_MS = 800

# The database is opened right after the window's first paint; a window that is not painted
# (started minimized) opens it this long after it was shown.
OPEN_UNPAINTED_AFTER_MS = 500
LOADING_TEXT = "Henter …"

# The core modules a view imports (its service, and with it SQLAlchemy's ORM and the models):
# imported off the GUI thread together with opening the database, when the view is the first
# one shown. The others are imported when their view is built, or by the warm-up.
VIEW_CORE = {
    "requests": ("hjemmeprove.services.requests", "hjemmeprove.services.history"),
    "inbox": ("hjemmeprove.services.requests", "hjemmeprove.services.history"),
    "settings": ("hjemmeprove.services.admin", "hjemmeprove.billing.rates",
                 "hjemmeprove.planning.distances"),
}

NAV = [
    ("requests", "Henvisninger", "Bestillinger, aflysninger, historik"),
    ("inbox", "Indbakke", "Elektroniske beskeder fra kommunerne (MedCom)"),
    ("planning", "Planlægning", "Ruter, kort, optimering, breve"),
    ("contact", "Kontakt", "Påmindelser: SMS, brev og opkald før besøget"),
    ("day_close", "Dagsafslutning", "Kørte km og udfald"),
    ("billing", "Fakturering", "Månedens opgørelser og fakturaer"),
    ("followup", "Opfølgning", "Tal pr. kommune og måned"),
    ("settings", "Indstillinger", "Takster, aftaler, kommuner, personale"),
]


def make_view(key: str, app, today: dt.date | None):
    if key == "requests":
        from ui.views.requests import RequestsView
        return RequestsView(app, today=today)
    if key == "inbox":
        from ui.views.inbox import InboxView

        return InboxView(app, today=today)
    if key == "planning":
        from ui.views.planning import PlanningView
        return PlanningView(app, today=today)
    if key == "contact":
        from ui.views.contact import ContactView
        return ContactView(app, today=today)
    if key == "day_close":
        from ui.views.day_close import DayCloseView
        return DayCloseView(app, today=today)
    if key == "billing":
        from ui.views.billing import BillingView
        return BillingView(app, today=today)
    if key == "followup":
        from ui.views.followup import FollowupView
        return FollowupView(app, today=today)
    if key == "settings":
        from ui.views.settings import SettingsView
        return SettingsView(app)
    raise KeyError(key)


class Views(Mapping):
    """The main window's views by key, each built the first time it is asked for (shown,
    or reached by ``window.views[key]``): the window paints without paying for the views
    nobody opened (their imports, their first queries). ``values()`` and ``items()`` build
    every view; ``built()`` gives the ones built so far."""

    def __init__(self, window: "MainWindow"):
        self._window = window
        self._built: dict[str, QWidget] = {}

    def __getitem__(self, key: str) -> QWidget:
        view = self._built.get(key)
        if view is None and not self._window.ready:
            raise RuntimeError(f"view {key!r} asked for before the database was open")
        if view is None:
            view = self._built[key] = self._window._build_view(key)
        return view

    def __iter__(self):
        return iter(key for key, *_ in NAV)

    def __len__(self) -> int:
        return len(NAV)

    def built(self) -> dict[str, QWidget]:
        """The views built so far, by key."""
        return dict(self._built)


class StartPage(QWidget):
    """Shown instead of the views when the database is empty: the user chooses demo data
    (made-up citizens, marked DEMO everywhere) or setting up the department. A page in the
    window, not a dialog: nothing is filled without that choice."""

    def __init__(self, window: "MainWindow"):
        super().__init__()
        self.setObjectName("startPage")
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        box = QWidget()
        box.setMaximumWidth(640)
        lay = QVBoxLayout(box)
        heading = QLabel("Velkommen til Hjemmeprøve")
        heading.setStyleSheet("font-size: 22px; font-weight: 600;")
        lay.addWidget(heading)
        text = QLabel(
            "Databasen er tom. Vil du prøve programmet med opdigtede data, eller vil du "
            "opsætte jeres egen afdeling (laboratorium, kommuner og aftaler, bioanalytikere)?")
        text.setWordWrap(True)
        lay.addWidget(text)
        lay.addSpacing(12)
        self.demo_button = QPushButton("Start med demodata")
        self.demo_button.setObjectName("startDemo")
        self.demo_button.setToolTip("Fylder databasen med en opdigtet afdeling, fem kommuner og "
                                    "tre måneders henvisninger. Vinduet og dokumenterne viser "
                                    "DEMO, så data ikke forveksles med rigtige borgere.")
        self.setup_button = QPushButton("Opsæt afdeling")
        self.setup_button.setObjectName("startSetup")
        self.setup_button.setToolTip("Åbner Indstillinger: afdeling, kommuner, aftaler, "
                                     "personale og takster")
        self.setup_button.setDefault(True)
        for b, note in ((self.setup_button, "Til rigtig brug: jeres afdeling, kommuner og "
                                            "aftaler under Indstillinger."),
                        (self.demo_button, "Til afprøvning og undervisning: opdigtede borgere "
                                           "og takster, tydeligt mærket DEMO.")):
            row = QHBoxLayout()
            b.setMinimumWidth(200)
            row.addWidget(b)
            label = QLabel(note)
            label.setWordWrap(True)
            label.setStyleSheet("color: #555;")
            row.addWidget(label, 1)
            lay.addLayout(row)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.hide()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        lay.addSpacing(8)
        lay.addWidget(self.busy)
        lay.addWidget(self.message)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)
        self.demo_button.clicked.connect(window.start_with_demo)
        self.setup_button.clicked.connect(window.start_setup)

    def working(self, text: str) -> None:
        self.demo_button.setEnabled(False)
        self.setup_button.setEnabled(False)
        self.busy.show()
        self.message.setText(text)

    def failed(self, text: str) -> None:
        self.demo_button.setEnabled(True)
        self.setup_button.setEnabled(True)
        self.busy.hide()
        self.message.setText(text)


class LoadingPage(QWidget):
    """Where the first view will be, until the database is open: "Henter …", or what takes
    longer (demo data being made) with a busy bar."""

    def __init__(self):
        super().__init__()
        self.setObjectName("loadingPage")
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        self.label = QLabel(LOADING_TEXT)
        self.label.setObjectName("loadingText")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.label.setStyleSheet("color: #666; font-size: 14px;")
        lay.addWidget(self.label)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(360)
        self.busy.hide()
        lay.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(2)

    def say(self, text: str, busy: bool = True) -> None:
        self.label.setText(text)
        self.busy.setVisible(busy)


def fit_screen(size: QSize, screen) -> QSize:
    """The window's first size (no layout saved yet): ``size``, made no larger than the screen's
    free area, so a 1366×768 laptop shows the status bar and the bottom rows."""
    if screen is None:
        return size
    free = screen.availableGeometry().size()
    return QSize(min(size.width(), free.width()), min(size.height(), free.height() - 40))


class MainWindow(QMainWindow):
    """``MainWindow(app)`` over an open App, or ``MainWindow(open_app=fn)``: ``fn(progress)``
    opens the App (and migrates the database) off the GUI thread after the first paint, and
    may report what it does with ``progress.update(text=…)``. Either way the views come once
    the window has painted: ``opened`` is emitted then (``ready`` is True), or ``failed``
    with the exception after it was shown to the user."""

    opened = Signal()
    failed = Signal(object)

    def __init__(self, app=None, today: dt.date | None = None,
                 settings: QSettings | None = None, offer_start: bool = True, *,
                 open_app: Callable[[Progress], object] | None = None):
        super().__init__()
        if (app is None) == (open_app is None):
            raise TypeError("MainWindow needs an App or open_app, one of them")
        self.app = app
        self.ready = False  # the App is open and the first view (or the start page) is shown
        self._open_app = open_app or (lambda _progress: app)
        self._offer_start = offer_start
        self._opening = False
        self._hold = object()  # counted by ops.running() from show until the opening starts
        self.today = today
        self.qsettings = settings or QSettings("hjemmeprove", "hjemmeprove")
        self.demo = False  # set by _mark_demo once the database has said so
        self.setWindowTitle(TITLE)
        self.setWindowIcon(icons.app_icon())
        self.resize(fit_screen(QSize(1360, 860), self.screen()))

        main = QWidget()
        column = QVBoxLayout(main)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.demo_banner = QLabel(DEMO_BANNER)
        self.demo_banner.setObjectName("demoBanner")
        self.demo_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.demo_banner.setStyleSheet("color: white; background: #b26a00; font-weight: 600; "
                                       "font-size: 14px; padding: 5px;")
        self.demo_banner.hide()
        column.addWidget(self.demo_banner)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setIconSize(QSize(22, 22))
        self.nav.setFixedWidth(190)
        self.stack = QStackedWidget()
        self.pages: list[QWidget] = []
        self.views = Views(self)
        for i, (key, label, tip) in enumerate(NAV):
            item = QListWidgetItem(icons.nav_icon(key, self.style()), label)
            item.setToolTip(f"{tip} (Alt+{i + 1})")
            item.setSizeHint(QSize(180, 40))
            self.nav.addItem(item)
            page = QWidget()  # the view goes in when it is first shown (Views)
            page.setObjectName(f"page_{key}")
            pl = QHBoxLayout(page)
            pl.setContentsMargins(12, 10, 12, 8)
            self.pages.append(page)
            self.stack.addWidget(page)
            QShortcut(QKeySequence(f"Alt+{i + 1}"), self,
                      activated=lambda i=i: self.nav.setCurrentRow(i))
        self.loading = LoadingPage()  # after the pages: their indexes are NAV's
        self.stack.addWidget(self.loading)
        self.stack.setCurrentWidget(self.loading)
        self.nav.currentRowChanged.connect(self._show_row)
        body.setSpacing(0)
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        column.addLayout(body, 1)

        # the window's two faces: the start page for an empty database, or the views
        self.faces = QStackedWidget()
        self.start_page: StartPage | None = None
        self.faces.addWidget(main)
        self.setCentralWidget(self.faces)
        self._main = main

        self._menus()
        QShortcut(QKeySequence.StandardKey.New, self, activated=self.new_request)
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.find)
        self.status = QLabel("")
        self.status.setStyleSheet("color: #555;")
        self.demo_mark = QLabel(f"{DEMO_MARK}: opdigtede borgere, kommuner og takster")
        self.demo_mark.setObjectName("demoMark")
        self.demo_mark.setStyleSheet("color: white; background: #b26a00; padding: 1px 6px;")
        self.demo_mark.hide()
        self.statusBar().addPermanentWidget(self.demo_mark)
        self.statusBar().addPermanentWidget(self.status)
        self.restore_layout()  # geometry before the first show; the view is built when open
        self._open_timer = QTimer(self, singleShot=True)
        self._open_timer.timeout.connect(self._begin_opening)
        self.destroyed.connect(lambda _obj=None, hold=self._hold: ops.release(hold))

    # --- opening the database after the first paint -------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._opening and not self._open_timer.isActive():
            ops.hold(self._hold)
            self._open_timer.start(OPEN_UNPAINTED_AFTER_MS)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._opening:
            self._open_timer.start(0)  # once this paint has reached the screen

    def _begin_opening(self) -> None:
        if self._opening:
            return
        self._opening = True
        first = NAV[max(self.nav.currentRow(), 0)][0]
        Op(self, lambda progress: self._open(progress, first)) \
            .on_progress(lambda _v, _m, text: self.loading.say(text)) \
            .success(self._opened).failure(self._open_failed).run_in_background()
        ops.release(self._hold)  # the Op counts from here

    def _open(self, progress: Progress, first: str):
        """Off the GUI thread: the App (migrated), whether it is empty, whether it holds demo
        data, and the first view's core modules."""
        app = self._open_app(progress)
        try:
            empty = self._offer_start and app.store.is_empty()
            demo = False if empty else app.holds_demo_data()
            if not empty:
                for module in VIEW_CORE.get(first, ()):
                    importlib.import_module(module)
        except BaseException:
            if app is not self.app:  # opened here: nobody else will close it
                app.close()
            raise
        return app, empty, demo

    def _opened(self, result) -> None:
        app, empty, demo = result
        self.app = app
        store = app.store
        db = store.url.split("///")[-1] if store.is_sqlite else \
            store.engine.url.render_as_string(hide_password=True)
        self.status.setText(f"Bruger: {store.user}   ·   Database: {db}")
        self.ready = True
        if empty:  # no view is built for it
            self.start_page = StartPage(self)
            self.faces.addWidget(self.start_page)
            self.faces.setCurrentWidget(self.start_page)
        else:
            self._mark_demo(demo)
            self._show_row(max(self.nav.currentRow(), 0))
            QTimer.singleShot(WARM_UP_AFTER_MS, self._warm_up)
        self.opened.emit()

    def _open_failed(self, exc: BaseException) -> None:
        self.loading.say("Databasen kunne ikke åbnes.", busy=False)
        errors.show_error(self, exc)
        self.failed.emit(exc)

    def _warm_up(self) -> None:
        """Imports what the views not yet opened will need, off the GUI thread."""
        import sys

        missing = [m for m in WARM_UP if m not in sys.modules]
        if missing:
            Op(self, lambda: [importlib.import_module(m) for m in missing]) \
                .success(lambda _mods: None) \
                .failure(lambda exc: log.warning("forhåndsindlæsning fejlede: %s", exc)) \
                .run_in_background()

    def _build_view(self, key: str) -> QWidget:
        view = make_view(key, self.app, self.today)
        view.setObjectName(f"view_{key}")
        page = self.pages[[k for k, *_ in NAV].index(key)]
        page.layout().addWidget(view)
        if hasattr(view, "restore_layout"):
            view.restore_layout(self.qsettings, key)
        return view

    def _show_row(self, row: int) -> None:
        if not 0 <= row < len(NAV) or not self.ready:
            return  # until the database is open the stack shows "Henter …"
        if self.faces.currentWidget() is self._main:  # behind the start page: built on leaving
            self.views[NAV[row][0]]  # built on first show
        self.stack.setCurrentIndex(row)

    def _mark_demo(self, demo: bool) -> None:
        self.demo = demo
        self.setWindowTitle(f"{TITLE} – {DEMO_MARK}" if demo else TITLE)
        self.demo_mark.setVisible(demo)
        self.demo_banner.setVisible(demo)

    # --- the start page's two ways -----------------------------------------------------------

    def _leave_start_page(self, key: str | None = None) -> None:
        if self.start_page is None or self.faces.currentWidget() is self._main:
            return
        self.faces.setCurrentWidget(self._main)
        if key is not None:
            self.nav.setCurrentRow([k for k, *_ in NAV].index(key))
        self._show_row(max(self.nav.currentRow(), 0))

    def start_with_demo(self) -> None:
        """Fills the empty database with demo data in the background, then shows the views
        (built now, so they load the new data) under the DEMO banner."""
        from hjemmeprove.demo import fill_demo

        page = self.start_page
        page.working("Opretter demodata: afdeling, kommuner, bioanalytikere og tre måneders "
                     "henvisninger. Det tager lidt tid …")

        def done(summary: str) -> None:
            self.statusBar().showMessage(summary, 15000)
            self._mark_demo(True)
            self._leave_start_page()
            self._warm_up()

        def failed(exc: BaseException) -> None:
            page.failed(f"Demodata kunne ikke oprettes: {exc}")

        today = self.today
        Op(self, lambda: fill_demo(self.app, today=today)).success(done).failure(failed) \
            .run_in_background()

    def start_setup(self) -> None:
        """Adds the shipped municipalities and mileage rates, then opens Indstillinger at the
        department: the real set-up, no made-up data."""
        from hjemmeprove.services.reference import load_defaults

        page = self.start_page
        page.working("Forbereder opsætningen (kommuner og statens takster) …")

        def done(_result) -> None:
            self._leave_start_page("settings")
            view = self.views["settings"]
            if "departments" in getattr(view, "pages", {}):
                view.tabs.setCurrentWidget(view.pages["departments"])
            self.statusBar().showMessage("Opsæt afdelingen: udfyld Afdeling, Kommuner og "
                                         "aftaler, Personale og Takster.", 15000)
            self._warm_up()

        def failed(exc: BaseException) -> None:
            page.failed(f"Opsætningen kunne ikke begynde: {exc}")

        Op(self, lambda: load_defaults(self.app.store)).success(done).failure(failed) \
            .run_in_background()

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&Filer")
        new = QAction("&Ny henvisning", self, shortcut=QKeySequence.StandardKey.New)
        new.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # QShortcut does the work
        new.triggered.connect(self.new_request)
        file_menu.addAction(new)
        file_menu.addSeparator()
        quit_action = QAction("&Afslut", self, shortcut=QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&Vis")
        for i, (_key, label, _tip) in enumerate(NAV):
            a = QAction(label, self)
            a.setShortcut(QKeySequence(f"Alt+{i + 1}"))
            a.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            a.triggered.connect(lambda _c=False, i=i: self.nav.setCurrentRow(i))
            view_menu.addAction(a)
        help_menu = self.menuBar().addMenu("&Hjælp")
        keys = QAction("&Genveje", self)
        keys.triggered.connect(self.show_shortcuts)
        help_menu.addAction(keys)
        about = QAction("&Om Hjemmeprøve", self)
        about.triggered.connect(self.about)
        help_menu.addAction(about)

    # --- navigation and shortcuts -----------------------------------------------------------

    def show_view(self, key: str) -> QWidget:
        index = [k for k, *_ in NAV].index(key)
        self._leave_start_page()
        self.nav.setCurrentRow(index)
        return self.views[key]

    def current_key(self) -> str:
        return NAV[self.nav.currentRow()][0]

    def new_request(self) -> None:
        if self.ready:  # until the database is open there is no list to add to
            self.show_view("requests").new_request()

    def find(self) -> None:
        if not self.ready:
            return
        if self.start_page is not None and self.faces.currentWidget() is self.start_page:
            return
        view = self.views[self.current_key()]
        if hasattr(view, "focus_search"):
            view.focus_search()
        else:
            self.show_view("requests").focus_search()

    def show_shortcuts(self) -> None:
        QMessageBox.information(
            self, "Genveje",
            "Ctrl+N  Ny henvisning\nCtrl+S  Gem (i formularer)\nCtrl+F  Søg\n"
            "Alt+1 … Alt+7  Skift visning\nCtrl+Q  Afslut")

    def about(self) -> None:
        QMessageBox.about(
            self, "Om Hjemmeprøve",
            "<b>Hjemmeprøve</b><br>Blodprøvetagning i eget hjem: henvisninger, ruter og "
            "fakturering af kommuner efter rammeaftalen.<br><br>Kort: Indeholder data fra "
            "Styrelsen for Dataforsyning og Infrastruktur / Klimadatastyrelsen.")

    # --- layout remembered (QSettings) ------------------------------------------------------

    def restore_layout(self) -> None:
        s = self.qsettings
        geometry = s.value("main/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = s.value("main/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        # each view restores its own layout when it is built (_build_view)
        try:
            row = int(s.value("main/view", 0))
        except (TypeError, ValueError):
            row = 0
        self.nav.setCurrentRow(row if 0 <= row < len(NAV) else 0)

    def save_layout(self) -> None:
        s = self.qsettings
        s.setValue("main/geometry", self.saveGeometry())
        s.setValue("main/state", self.saveState())
        s.setValue("main/view", self.nav.currentRow())
        for key, view in self.views.built().items():
            if hasattr(view, "save_layout"):
                view.save_layout(s, key)
        s.sync()

    def closeEvent(self, event) -> None:
        self.save_layout()
        super().closeEvent(event)
