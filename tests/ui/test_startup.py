"""The main window at start: views built when first shown, nothing heavy before the first
paint, and an empty database that asks what to do (demo data or the department's set-up)
instead of filling itself."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from tests.ui.conftest import make_window, settle

ROOT = Path(__file__).resolve().parents[2]


def test_only_the_shown_view_is_built_and_others_on_first_show(qtbot, window):
    assert set(window.views.built()) == {"requests"}
    assert window.views["requests"].isVisible()
    view = window.show_view("day_close")
    settle(qtbot)
    assert set(window.views.built()) == {"requests", "day_close"}
    assert view.isVisible() and view.objectName() == "view_day_close"
    assert window.stack.currentWidget().isAncestorOf(view)
    assert window.show_view("day_close") is view  # built once
    window.nav.setCurrentRow(5)  # the navigation list builds it as well (billing)
    settle(qtbot)
    assert "billing" in window.views.built()
    assert window.views["billing"].isVisible()


def test_the_remembered_view_is_the_one_built_and_its_layout_comes_back(
        qtbot, department_app, qsettings, dialogs):
    w = make_window(qtbot, department_app, qsettings, today=dt.date(2024, 4, 2))
    w.show_view("settings")
    settle(qtbot)
    splitter = w.views["requests"].splitter
    total = sum(splitter.sizes())
    splitter.setSizes([total // 4, total - total // 4])
    sizes = splitter.sizes()
    w.close()  # saves the layout of the views that were built
    w2 = make_window(qtbot, department_app, qsettings, today=dt.date(2024, 4, 2))
    assert w2.current_key() == "settings"
    assert set(w2.views.built()) == {"settings"}
    w2.show_view("requests")  # restored as it is built
    settle(qtbot)
    restored = w2.views["requests"].splitter.sizes()
    assert abs(restored[0] / sum(restored) - sizes[0] / sum(sizes)) < 0.02


PROBE = r"""
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication

qapp = QApplication([])
heavy = ("ortools", "hjemmeprove.planning.planner", "reportlab", "babel", "lxml", "alembic",
         "PySide6.QtCharts", "PySide6.QtPdf", "hjemmeprove.db.models",
         "hjemmeprove.services.requests")


class FirstPaint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and type(obj).__name__ == "MainWindow":
            print("LOADED " + json.dumps([m for m in heavy if m in sys.modules]), flush=True)
            QTimer.singleShot(0, lambda: os._exit(0))
        return False


probe = FirstPaint()
qapp.installEventFilter(probe)
from hjemmeprove.app import App
from ui.mainwindow import MainWindow

app = App(sys.argv[1], user="test")
w = MainWindow(app, settings=QSettings(sys.argv[2], QSettings.Format.IniFormat))
w.show()
qapp.exec()
"""


def test_the_first_paint_needs_no_planner_pdf_charts_or_alembic(department_app, tmp_path):
    """The window paints before OR-Tools, reportlab, babel, QtCharts and QtPdf are imported:
    they come with the view (or the action) that uses them; over an open App, before the
    models and the request service too (the first view is built after the paint)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", PROBE, department_app.store.url,
                          str(tmp_path / "ui.ini")], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("LOADED ")), None)
    assert line is not None, out.stderr[-2000:]
    assert json.loads(line[len("LOADED "):]) == []


# --- an empty database: a choice, not a surprise ---------------------------------------------


def test_an_empty_database_offers_demo_data_or_setup_and_fills_nothing(qtbot, app, qsettings,
                                                                         dialogs):
    w = make_window(qtbot, app, qsettings)
    assert w.start_page is not None and w.start_page.isVisible()
    assert w.faces.currentWidget() is w.start_page
    assert w.views.built() == {}  # nothing behind the page is built (or loaded) yet
    assert {b.text() for b in (w.start_page.demo_button, w.start_page.setup_button)} == {
        "Start med demodata", "Opsæt afdeling"}
    assert app.store.is_empty() and not app.holds_demo_data()
    assert not w.demo_banner.isVisible()


def test_start_with_demo_data_fills_the_database_and_shows_the_demo_banner(
        qtbot, app, qsettings, dialogs, monkeypatch):
    from hjemmeprove import demo

    monkeypatch.setattr(demo, "fill_demo", partial(demo.fill_demo, months=1,
                                                   per_working_day=3))  # a small demo
    w = make_window(qtbot, app, qsettings, today=dt.date(2026, 11, 23))
    qtbot.mouseClick(w.start_page.demo_button, _left())
    settle(qtbot, 120)
    assert app.holds_demo_data()
    assert w.faces.currentWidget() is not w.start_page
    assert w.demo_banner.isVisible() and "DEMO" in w.demo_banner.text()
    assert "DEMODATA" in w.windowTitle()
    view = w.views["requests"]  # built after the demo data were there: it shows them
    settle(qtbot)
    assert view.isVisible() and view.model.rowCount() > 0


def test_setup_opens_the_department_settings_with_no_made_up_data(qtbot, db_url, qsettings,
                                                                   dialogs):
    from hjemmeprove.app import App

    app = App(db_url, user="test")  # new: not even the shipped municipalities yet
    try:
        w = make_window(qtbot, app, qsettings)
        qtbot.mouseClick(w.start_page.setup_button, _left())
        settle(qtbot)
        assert w.faces.currentWidget() is not w.start_page
        assert w.current_key() == "settings"
        view = w.views["settings"]
        assert view.tabs.currentWidget() is view.pages["departments"]
        assert not app.holds_demo_data() and app.store.is_empty()
        assert len(app.admin.list_municipalities()) > 0  # the shipped defaults, to choose from
        assert not w.demo_banner.isVisible()
        w.close()
    finally:
        app.close()


def test_a_demo_database_wears_the_banner_and_a_department_does_not(qtbot, demo_window,
                                                                    window):
    assert demo_window.demo_banner.isVisible()
    assert demo_window.start_page is None
    assert not window.demo_banner.isVisible()


def _left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


WARM_PROBE = r"""
import json, os, sys, threading, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"


class Watch:
    # records the thread that imports the planner
    threads = {}

    def find_spec(self, name, path=None, target=None):
        if name in ("ortools", "hjemmeprove.planning.planner"):
            self.threads[name] = threading.current_thread() is threading.main_thread()
        return None


sys.meta_path.insert(0, Watch())
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

qapp = QApplication([])
from hjemmeprove.app import App
from ui import ops
from ui.mainwindow import MainWindow

app = App(sys.argv[1], user="test")
w = MainWindow(app, settings=QSettings(sys.argv[2], QSettings.Format.IniFormat))
w.show()
end = time.monotonic() + 60
while time.monotonic() < end and ("ortools" not in sys.modules or ops.running()):
    qapp.processEvents()
    time.sleep(0.02)
print("WARM " + json.dumps({"on_main_thread": Watch.threads,
                            "built": sorted(w.views.built())}), flush=True)
os._exit(0)
"""


def test_the_planner_is_imported_after_the_first_paint_off_the_gui_thread(department_app,
                                                                          tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", WARM_PROBE, department_app.store.url,
                          str(tmp_path / "ui.ini")], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WARM ")), None)
    assert line is not None, out.stderr[-2000:]
    result = json.loads(line[len("WARM "):])
    assert result["on_main_thread"] == {"hjemmeprove.planning.planner": False, "ortools": False}
    assert result["built"] == ["requests"]  # warmed up, not built


# --- the window paints before the database is opened ----------------------------------------

RUN_PROBE = r"""
import json, os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

qapp = QApplication([])
heavy = ("sqlalchemy", "sqlalchemy.orm", "hjemmeprove.db.store", "hjemmeprove.db.models",
         "hjemmeprove.services.requests", "alembic")
seen = {}


def rows_shown():
    w = seen["window"]
    view = w.views.built().get("requests")
    if view is not None and view.model.rowCount() > 0:
        seen["rows"] = view.model.rowCount()
        print("RUN " + json.dumps(seen["paint"] | {"rows": seen["rows"]}), flush=True)
        os._exit(0)
    if time.monotonic() > seen["end"]:
        print("RUN " + json.dumps(seen["paint"] | {"rows": 0}), flush=True)
        os._exit(0)
    QTimer.singleShot(20, rows_shown)


class FirstPaint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and type(obj).__name__ == "MainWindow" \
                and "paint" not in seen:
            seen["window"] = obj
            seen["paint"] = {"loaded": [m for m in heavy if m in sys.modules],
                             "ready": getattr(obj, "ready", None),
                             "built": sorted(obj.views.built())}
            seen["end"] = time.monotonic() + 60
            QTimer.singleShot(0, rows_shown)
        return False


probe = FirstPaint()
qapp.installEventFilter(probe)
from hjemmeprove.cli import main

main(["--db", sys.argv[1], "gui"])
print("RUN never painted", flush=True)
"""


def _env(tmp_path) -> dict:
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "cfg"),
                XDG_DATA_HOME=str(tmp_path / "data"))


def _run_probe(script: str, db: str, tag: str, tmp_path) -> dict:
    """Runs ``script`` in a fresh interpreter on ``db``; its JSON line tagged ``tag``."""
    out = subprocess.run([sys.executable, "-c", script, db], capture_output=True, text=True,
                         cwd=ROOT, env=_env(tmp_path), timeout=120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith(tag + " ")), None)
    assert line is not None, out.stderr[-2000:]
    return json.loads(line[len(tag) + 1:])


def test_hjemmeprove_gui_paints_before_sqlalchemy_the_models_or_the_list_query(
        demo_db_template, tmp_path):
    """``hjemmeprove gui`` shows its window before the database is touched: at the first
    paint neither SQLAlchemy, the ORM's models nor the request service is imported and no
    view is built; the request list then fills in with the database's rows."""
    import shutil

    db = tmp_path / "demo.sqlite3"
    shutil.copy(demo_db_template, db)
    result = _run_probe(RUN_PROBE, f"sqlite:///{db}", "RUN", tmp_path)
    assert result["loaded"] == [] and result["ready"] is False and result["built"] == []
    assert result["rows"] > 0  # and then the list shows the demo's requests


def test_an_older_database_is_migrated_after_the_paint_before_any_view_is_built(
        qtbot, department_app, qsettings, dialogs):
    """The window opens the database itself (``open_app``): an older schema is migrated
    first, and only then is a view built and filled; until then the window says "Henter …"
    and no view can be had."""
    from alembic import command
    from PySide6.QtCore import QEvent, QObject

    from hjemmeprove.db import migrate
    from tests.test_migration_0008 import migrate as migrate_to
    from ui.main import open_app
    from ui.mainwindow import LOADING_TEXT, MainWindow

    url = department_app.store.url
    head = migrate.head_revision(department_app.store)
    migrate_to(department_app.store.engine, url, command.downgrade, "-1")
    department_app.close()

    built_at: list = []

    class WatchBuild(QObject):  # what the schema was when the list view was made
        def eventFilter(self, obj, ev):
            if ev.type() == QEvent.Type.Show and obj.objectName() == "view_requests" \
                    and not built_at:
                built_at.append(migrate.current_revision(w.app.store))
            return False

    w = MainWindow(open_app=open_app(url, "test"), settings=qsettings)
    qtbot.addWidget(w)
    assert not w.ready and w.loading.label.text() == LOADING_TEXT
    assert w.stack.currentWidget() is w.loading
    with pytest.raises(RuntimeError):
        w.views["requests"]
    watch = WatchBuild()
    from PySide6.QtWidgets import QApplication

    QApplication.instance().installEventFilter(watch)
    try:
        with qtbot.waitSignal(w.opened, timeout=60_000):
            w.show()
        settle(qtbot)
    finally:
        QApplication.instance().removeEventFilter(watch)
    assert built_at == [head]
    assert migrate.current_revision(w.app.store) == head
    assert set(w.views.built()) == {"requests"} and w.views["requests"].isVisible()
    assert w.app.store.user in w.status.text()
    assert dialogs == []
    w.close()
    w.app.close()


def test_a_database_that_cannot_be_opened_is_told_in_danish_and_shows_nothing(
        qtbot, tmp_path, qsettings, dialogs):
    from ui.main import open_app
    from ui.mainwindow import MainWindow

    bad = tmp_path / "not-a-database.sqlite3"
    bad.write_bytes(b"this is no SQLite file, " * 100)
    w = MainWindow(open_app=open_app(f"sqlite:///{bad}", "test"), settings=qsettings)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.failed, timeout=60_000):
        w.show()
    settle(qtbot)
    assert len(dialogs) == 1
    title, text = dialogs[0]
    assert title == "Uventet fejl" and "Der opstod en uventet fejl" in text
    assert w.app is None and not w.ready and w.views.built() == {}
    assert w.loading.label.text() == "Databasen kunne ikke åbnes."


GUI_FAILS = r"""
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from ui import errors
errors.dialog_sink = []
from hjemmeprove.cli import main
rc = main(["--db", sys.argv[1], "gui"])
print("GUI " + json.dumps({"rc": rc, "dialogs": errors.dialog_sink}), flush=True)
"""


def test_hjemmeprove_gui_ends_with_1_when_the_database_cannot_be_opened(tmp_path):
    bad = tmp_path / "not-a-database.sqlite3"
    bad.write_bytes(b"this is no SQLite file, " * 100)
    result = _run_probe(GUI_FAILS, f"sqlite:///{bad}", "GUI", tmp_path)
    assert result["rc"] == 1
    assert [title for title, _text in result["dialogs"]] == ["Uventet fejl"]


def test_while_the_database_opens_the_window_says_so_and_keys_wait(qtbot, department_app,
                                                                    qsettings, dialogs):
    """Until the App is open the window shows "Henter …" (and what takes long), Ctrl+N and
    Ctrl+F do nothing, and a view chosen in the navigation meanwhile is the one built."""
    import threading

    from ui.mainwindow import LOADING_TEXT, MainWindow

    go = threading.Event()

    def slow_open(progress):
        progress.update(text="Klargør databasen …")
        go.wait(30)
        return department_app

    w = MainWindow(open_app=slow_open, settings=qsettings, today=dt.date(2024, 4, 2))
    qtbot.addWidget(w)
    assert w.loading.label.text() == LOADING_TEXT
    w.show()
    qtbot.waitUntil(lambda: w.loading.label.text() == "Klargør databasen …", timeout=10_000)
    assert w.loading.isVisible() and w.loading.busy.isVisible()
    w.new_request()
    w.find()
    w.nav.setCurrentRow(4)  # Dagsafslutning
    assert w.stack.currentWidget() is w.loading and w.views.built() == {}
    go.set()
    settle(qtbot)
    assert w.ready and set(w.views.built()) == {"day_close"}
    assert w.views["day_close"].isVisible() and not w.loading.isVisible()
    assert dialogs == []
    w.close()


def test_the_demo_start_fills_an_empty_database_after_the_paint_and_shows_it(
        qtbot, db_url, qsettings, dialogs, monkeypatch):
    """``hjemmeprove gui --demo-if-empty`` (tools/start.sh, README's demo start): the window
    says what it is doing, then shows the demo's requests under the DEMO banner."""
    from hjemmeprove import demo
    from ui import main
    from ui.mainwindow import MainWindow

    monkeypatch.setattr(demo, "fill_demo", partial(demo.fill_demo, months=1,
                                                   per_working_day=3))  # a small demo
    said: list = []
    w = MainWindow(open_app=main.open_app(db_url, "test", demo_if_empty=True),
                   settings=qsettings, today=dt.date(2026, 11, 23))
    qtbot.addWidget(w)
    orig = w.loading.say
    monkeypatch.setattr(w.loading, "say", lambda text, busy=True: (said.append(text),
                                                                   orig(text, busy)))
    with qtbot.waitSignal(w.opened, timeout=120_000):
        w.show()
    settle(qtbot, 60)
    assert main.DEMO_FILL_TEXT in said
    assert w.start_page is None and w.demo_banner.isVisible()
    view = w.views["requests"]
    assert view.isVisible() and view.model.rowCount() > 0
    w.close()
    w.app.close()
