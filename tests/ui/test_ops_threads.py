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
