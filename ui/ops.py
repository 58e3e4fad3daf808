"""Background work for the desktop program (like Anki's CollectionOp).

    Op(parent, fn).success(cb).failure(cb).with_progress("Optimerer…", cancellable=True)
        .run_in_background()

``fn`` runs on a QThreadPool thread and calls only core services (each opens its own short
session). With ``with_progress`` it receives a :class:`Progress` it may update and poll for
``cancelled``. ``success`` gets the result and ``failure`` the exception, both on the GUI
thread. Without a failure callback the error is shown as a dialog (ui.errors) and an
unexpected one is logged. The window never freezes: a modal-less progress dialog shows while
the work runs, with a Cancel button when cancellable; with ``on_progress(cb)`` instead, fn
gets a Progress whose updates go to ``cb`` (a label in the window) and no dialog shows.

Python's cyclic garbage collector runs in whichever thread happens to allocate, so an op's
thread would otherwise finalise a window, a dialog or a model that is garbage (a closed form
in a reference cycle): Qt objects must be destroyed in the thread they live in, and one
destroyed on a pool thread can crash the program or deadlock it. ``GuiCollector`` turns the
automatic collector off and collects on the GUI thread from a timer instead (the program and
the UI tests install it once, for the QApplication).

Work that is scheduled but not started yet (the main window opens the database after its
first paint) is counted as under way with ``hold``/``release``, so ``running()`` (what tests
and the screenshots wait for) does not read 0 in between.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget
from shiboken6 import isValid

from ui import errors

_running: set = set()  # the Ops under way, and the tokens held for work not started yet


def running() -> int:
    """How many ops are still under way (tests wait for 0)."""
    return len(_running)


def hold(token: object) -> None:
    """Counts ``token`` as under way until ``release(token)``: work that will start soon."""
    _running.add(token)


def release(token: object) -> None:
    _running.discard(token)


class GuiCollector(QObject):
    """Garbage is collected on the GUI thread only (see the module's text): automatic
    collection is off while this is installed, and a timer collects each generation once its
    count passes the threshold the automatic collector would have used. ``stop()`` puts the
    automatic collector back, after a collection here."""

    INTERVAL_MS = 500

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self._threshold = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)

    def check(self) -> None:
        # as the automatic collector: the oldest generation whose count, and every younger
        # one's, passed its threshold, in one collection (it takes the younger ones with it)
        counts = gc.get_count()
        oldest = -1
        while oldest < 2 and counts[oldest + 1] > self._threshold[oldest + 1]:
            oldest += 1
        if oldest >= 0:
            gc.collect(oldest)

    def stop(self) -> None:
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()


class Cancelled(Exception):
    """Raised by Progress.check() when the user pressed Annullér."""


class Progress:
    """Handed to fn: report progress, ask whether the user cancelled."""

    def __init__(self, op: "Op"):
        self._op = op
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def event(self) -> threading.Event:
        """Set when the user cancels; hand it to core functions that take cancel_event."""
        return self._cancel

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()

    def update(self, value: int = 0, maximum: int = 0, text: str = "") -> None:
        self._op._signals.progress.emit(int(value), int(maximum), text)


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)
    progress = Signal(int, int, str)


class _Runnable(QRunnable):
    def __init__(self, op: "Op"):
        super().__init__()
        self.op = op
        self.setAutoDelete(True)

    def run(self) -> None:
        op = self.op
        try:
            try:
                result = op._fn(op.progress) if op._reports else op._fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, never lost
                op._signals.failed.emit(_as_user_error(exc))
            else:
                op._signals.done.emit(result)
        except RuntimeError:  # the program is closing: nobody is left to tell
            pass


def _as_user_error(exc: BaseException) -> BaseException:
    """Two users changing the same data at once is not an unexpected error: it becomes a
    ConflictError with a Danish message naming what to do (the original is kept as cause)."""
    from hjemmeprove.db.store import conflict_message
    from hjemmeprove.errors import ConflictError

    message = conflict_message(exc)
    if message is None:
        return exc
    err = ConflictError(message)
    err.__cause__ = exc
    return err


class Op:
    def __init__(self, parent: QWidget | None, fn: Callable[..., Any]):
        self._parent = parent
        self._fn = fn
        self._success: Callable[[Any], None] | None = None
        self._failure: Callable[[BaseException], None] | None = None
        self._finally: Callable[[], None] | None = None
        self._label: str | None = None
        self._progress_cb: Callable[[int, int, str], None] | None = None
        self._cancellable = False
        self._dialog: QProgressDialog | None = None
        self._signals = _Signals()
        self.progress = Progress(self)

    def success(self, cb: Callable[[Any], None]) -> "Op":
        self._success = cb
        return self

    def failure(self, cb: Callable[[BaseException], None]) -> "Op":
        self._failure = cb
        return self

    def finally_(self, cb: Callable[[], None]) -> "Op":
        self._finally = cb
        return self

    def with_progress(self, label: str, cancellable: bool = False) -> "Op":
        """fn receives a Progress; a progress dialog shows while it runs."""
        self._label = label
        self._cancellable = cancellable
        return self

    def on_progress(self, cb: Callable[[int, int, str], None]) -> "Op":
        """fn receives a Progress; its updates (value, maximum, text) go to ``cb`` on the GUI
        thread, and no dialog shows."""
        self._progress_cb = cb
        return self

    @property
    def _reports(self) -> bool:
        return self._label is not None or self._progress_cb is not None

    def run_in_background(self) -> "Op":
        self._signals.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._signals.failed.connect(self._on_failed, Qt.ConnectionType.QueuedConnection)
        self._signals.progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        if self._label is not None and self._parent is not None:
            dlg = QProgressDialog(self._label, "Annullér" if self._cancellable else "", 0, 0,
                                  self._parent)
            dlg.setWindowTitle("Arbejder…")
            dlg.setMinimumDuration(300)
            dlg.setAutoReset(False)  # stays up until the work is done, even at 100 %
            dlg.setAutoClose(False)
            dlg.setWindowModality(Qt.WindowModality.WindowModal)
            if self._cancellable:
                dlg.canceled.connect(self.progress.cancel)
            else:
                dlg.setCancelButton(None)
            self._dialog = dlg
        _running.add(self)
        QThreadPool.globalInstance().start(_Runnable(self))
        return self

    # --- GUI thread -------------------------------------------------------------------------

    def _orphaned(self) -> bool:
        """The widget that started the op is gone (its window was closed while the work
        ran): there is nobody to call back, and its callbacks would touch deleted widgets."""
        return self._parent is not None and not isValid(self._parent)

    def _on_progress(self, value: int, maximum: int, text: str) -> None:
        if self._orphaned():
            return
        if self._progress_cb is not None:
            self._progress_cb(value, maximum, text)
        if self._dialog is not None:
            self._dialog.setMaximum(maximum)
            self._dialog.setValue(value)
            if text:
                self._dialog.setLabelText(text)

    def _close(self) -> None:
        if self._dialog is not None:
            self._dialog.reset()
            self._dialog.close()
            self._dialog.deleteLater()
            self._dialog = None

    def _on_done(self, result: Any) -> None:
        if self._orphaned():
            _running.discard(self)
            return
        self._close()
        try:
            if self._success is not None:
                self._success(result)
        except Exception as exc:  # noqa: BLE001
            errors.show_error(self._parent, exc)
        finally:
            self._end()

    def _on_failed(self, exc: BaseException) -> None:
        if self._orphaned():
            if not isinstance(exc, Cancelled):  # never lost: in the log at least
                errors.log.error("arbejde sluttede med en fejl, efter at vinduet var lukket",
                                 exc_info=(type(exc), exc, exc.__traceback__))
            _running.discard(self)
            return
        self._close()
        try:
            if self._failure is not None:
                self._failure(exc)
            elif not isinstance(exc, Cancelled):
                errors.show_error(self._parent, exc)
        finally:
            self._end()

    def _end(self) -> None:
        try:
            if self._finally is not None:
                self._finally()
        finally:
            _running.discard(self)
