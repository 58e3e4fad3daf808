"""Background ops and Qt objects: garbage is never collected on an op's thread."""

from __future__ import annotations

import threading

from tests.ui.conftest import settle


def test_garbage_is_collected_on_the_gui_thread_not_on_an_ops_thread(qtbot,
                                                                      gui_thread_collector):
    """A closed window in a reference cycle is garbage that only the cyclic collector frees.
    Without ``ui.ops.GuiCollector`` the collector runs in whichever thread allocates, so an
    op's work (which allocates a lot) would destroy the window on the pool's thread."""
    from PySide6.QtCore import QObject

    from ui.ops import Op

    where: list[bool] = []

    class Probe(QObject):
        def __del__(self):
            where.append(threading.current_thread() is threading.main_thread())

    probe = Probe()
    probe.cycle = probe
    del probe

    def work():  # as a core service: many objects, some in reference cycles
        for _ in range(200_000):
            a: list = []
            a.append(a)

    Op(None, work).run_in_background()
    settle(qtbot)
    qtbot.waitUntil(lambda: bool(where), timeout=5000)
    assert where == [True]


def test_the_collector_gives_automatic_collection_back_when_stopped(qapp):
    import gc

    from ui.ops import GuiCollector

    assert not gc.isenabled()  # the UI tests' collector, as the program's
    inner = GuiCollector(qapp)
    inner.stop()
    assert not gc.isenabled()  # it was off when this one started: stays off
    inner.deleteLater()


def test_an_op_whose_widget_was_closed_calls_nobody_back(qtbot, caplog):
    """A view's op (the inbox's poll, a list's load) may still run when its window is
    closed: when it ends, the deleted view's callbacks are not called (they would raise on
    deleted widgets in the next event loop), a failure goes to the log, and the op ends."""
    import shiboken6
    from PySide6.QtWidgets import QLabel

    from ui import ops
    from ui.ops import Op

    calls: list[str] = []
    gate = threading.Event()
    for outcome in ("done", "failed"):
        label = QLabel()

        def work(outcome=outcome):
            gate.wait(5)
            if outcome == "failed":
                raise ValueError("efter lukning")
            return "resultat"

        gate.clear()
        Op(label, work).success(lambda r, label=label: label.setText(r)) \
            .failure(lambda e, label=label: label.setText(str(e))) \
            .finally_(lambda: calls.append("finally")).run_in_background()
        shiboken6.delete(label)  # the window closed while the work ran
        gate.set()
        settle(qtbot)
    assert ops.running() == 0 and calls == []
    # nobody is left to show the failure: it is not lost, it is in the program's log
    assert "efter lukning" in caplog.text and "vinduet var lukket" in caplog.text
