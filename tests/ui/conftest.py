"""UI test helpers: wait for background ops, a main window over a test database."""

from __future__ import annotations

import datetime as dt

import pytest


def settle(qtbot, timeout: float = 15.0) -> None:
    """Waits until every background op has finished and its callbacks have run."""
    from ui import ops

    qtbot.waitUntil(lambda: ops.running() == 0, timeout=int(timeout * 1000))
    qtbot.wait(20)


@pytest.fixture(scope="session", autouse=True)
def gui_thread_collector(qapp):
    """As the program: garbage (the earlier tests' windows among it) is collected on the GUI
    thread, never on an op's thread (ui.ops.GuiCollector)."""
    from ui import ops

    collector = ops.GuiCollector(qapp)
    yield collector
    collector.stop()


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch):
    """A modal dialog nobody answers would block an offscreen test forever: any ``exec()``
    of a dialog fails the test instead, naming the dialog's text. Tests answer questions by
    replacing the view's ``ask`` (or use the ``dialogs`` sink for message boxes)."""
    from PySide6.QtWidgets import QDialog, QMessageBox

    def refuse(self, *_args):
        text = self.text() if isinstance(self, QMessageBox) else self.windowTitle()
        raise AssertionError(f"a modal dialog was opened in a test: {text!r}")

    monkeypatch.setattr(QDialog, "exec", refuse)
    monkeypatch.setattr(QMessageBox, "exec", refuse)


@pytest.fixture
def dialogs(monkeypatch):
    """Collects what would be shown as message boxes (title, text)."""
    from ui import errors

    sink: list = []
    monkeypatch.setattr(errors, "dialog_sink", sink)
    return sink


@pytest.fixture
def qsettings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)


def make_window(qtbot, app, qsettings, today=None):
    from ui.mainwindow import MainWindow

    w = MainWindow(app, today=today, settings=qsettings)
    qtbot.addWidget(w)
    w.show()
    settle(qtbot)
    return w


@pytest.fixture
def window(qtbot, department_app, qsettings, dialogs):
    return make_window(qtbot, department_app, qsettings, today=dt.date(2024, 4, 2))


@pytest.fixture
def demo_window(qtbot, demo_app, qsettings, dialogs):
    from tests.conftest import DEMO_TODAY

    return make_window(qtbot, demo_app, qsettings, today=DEMO_TODAY)


