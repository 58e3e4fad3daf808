"""The main window: a navigation list for the day's work and one view per task."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QByteArray, QLocale, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from ui import icons
from ui.ops import Op

QLocale.setDefault(QLocale(QLocale.Language.Danish, QLocale.Country.Denmark))

TITLE = "Hjemmeprøve – blodprøvetagning i eget hjem"
DEMO_MARK = "DEMODATA"  # title and status bar of a database filled by ``hjemmeprove demo``

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


class MainWindow(QMainWindow):
    def __init__(self, app, today: dt.date | None = None, settings: QSettings | None = None):
        super().__init__()
        self.app = app
        self.today = today
        self.qsettings = settings or QSettings("hjemmeprove", "hjemmeprove")
        self.demo = False  # set by _mark_demo once the database has said so
        self.setWindowTitle(TITLE)
        self.setWindowIcon(icons.app_icon())
        self.resize(1360, 860)

        central = QWidget()
        lay = QHBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setIconSize(QSize(22, 22))
        self.nav.setFixedWidth(190)
        self.stack = QStackedWidget()
        self.views: dict[str, QWidget] = {}
        for i, (key, label, tip) in enumerate(NAV):
            item = QListWidgetItem(icons.nav_icon(key, self.style()), label)
            item.setToolTip(f"{tip} (Alt+{i + 1})")
            item.setSizeHint(QSize(180, 40))
            self.nav.addItem(item)
            view = make_view(key, app, today)
            view.setObjectName(f"view_{key}")
            self.views[key] = view
            page = QWidget()
            pl = QHBoxLayout(page)
            pl.setContentsMargins(12, 10, 12, 8)
            pl.addWidget(view)
            self.stack.addWidget(page)
            QShortcut(QKeySequence(f"Alt+{i + 1}"), self,
                      activated=lambda i=i: self.nav.setCurrentRow(i))
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        lay.setSpacing(0)
        lay.addWidget(self.nav)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._menus()
        QShortcut(QKeySequence.StandardKey.New, self, activated=self.new_request)
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.find)
        db = app.store.url.split("///")[-1] if app.store.is_sqlite else \
            app.store.engine.url.render_as_string(hide_password=True)
        status = QLabel(f"Bruger: {app.store.user}   ·   Database: {db}")
        status.setStyleSheet("color: #555;")
        self.demo_mark = QLabel(f"{DEMO_MARK}: opdigtede borgere, kommuner og takster")
        self.demo_mark.setObjectName("demoMark")
        self.demo_mark.setStyleSheet("color: white; background: #b26a00; padding: 1px 6px;")
        self.demo_mark.hide()
        self.statusBar().addPermanentWidget(self.demo_mark)
        self.statusBar().addPermanentWidget(status)
        Op(self, app.holds_demo_data).success(self._mark_demo).run_in_background()
        self.restore_layout()

    def _mark_demo(self, demo: bool) -> None:
        self.demo = demo
        self.setWindowTitle(f"{TITLE} – {DEMO_MARK}" if demo else TITLE)
        self.demo_mark.setVisible(demo)

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
        self.nav.setCurrentRow(index)
        return self.views[key]

    def current_key(self) -> str:
        return NAV[self.nav.currentRow()][0]

    def new_request(self) -> None:
        self.show_view("requests").new_request()

    def find(self) -> None:
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
        for key, view in self.views.items():
            if hasattr(view, "restore_layout"):
                view.restore_layout(s, key)
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
        for key, view in self.views.items():
            if hasattr(view, "save_layout"):
                view.save_layout(s, key)
        s.sync()

    def closeEvent(self, event) -> None:
        self.save_layout()
        super().closeEvent(event)
