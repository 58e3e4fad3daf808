"""Rendering a run's draft documents, on both cores when the month is large.

A month's PDFs are most of a billing run's time, and each invoice's documents depend only on
its ``InvoiceDoc`` (plain data). When a run has many visits, a second process (``Helper``)
renders invoices' documents while this one does the rest of the run: it is started before
the bills are computed, so its start-up (imports, fonts) overlaps with computing them.

The work is shared as it goes (``Lanes``): each invoice's data goes to the second process as
soon as it exists, a couple at a time, and whenever it answers one it gets the largest
invoice still waiting; this process renders from the same queue once the drafts are saved.
So both finish together whatever the invoices' sizes or the machine's load, and the second
process starts rendering before the run has saved its drafts.

Only plain data crosses the process boundary: ``InvoiceDoc`` one way, each invoice's
``{kind: (filename, bytes)}`` the other. The second process never opens the database and never
writes a file: the caller writes every file (``fileio``) once all of them are rendered, so a
failure in the second process is a Danish ``DocumentError`` with no file written.

Started with ``spawn`` (no fork: the caller may be a GUI with threads); the bundle's entry
point calls ``multiprocessing.freeze_support()`` so a frozen program can start it.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
from collections import deque

from hjemmeprove.documents.drafts import draft_documents, serve
from hjemmeprove.documents.model import InvoiceDoc
from hjemmeprove.errors import HjemmeproveError

log = logging.getLogger(__name__)

# Below this many visits in a run the second process's start-up costs more than it saves.
MIN_ITEMS = 1500
# An invoice's fixed part (its invoice PDF, the statement's totals, lines and settings) in
# visits' worth of work: which waiting invoice is the largest.
DOC_WEIGHT = 60
# Invoices the second process holds at a time: the one it renders and the next, so it never
# waits for this process (which may be busy rendering) to send it more.
AHEAD = 2


class DocumentError(HjemmeproveError):
    """The documents could not be rendered; in Danish, nothing written."""


def worth_a_helper(n_items: int, processes: int) -> bool:
    """Whether a run of about ``n_items`` visits renders in two processes: only with two
    cores or more, and only when it pays for the start-up."""
    return processes > 1 and n_items >= MIN_ITEMS and (os.cpu_count() or 1) > 1


class Lanes:
    """Renders ``add``-ed invoices' documents here and in ``helper`` (or here only, without
    one); ``finish`` gives them all, in the order added.

    The second process is sent invoices as they are added until it holds ``AHEAD``; then
    they wait, and each answer it gives takes it the largest waiting one. ``finish`` renders
    the waiting ones here, largest first, then waits for the second process's last answers.
    """

    def __init__(self, helper: Helper | None):
        self.helper = helper
        self.docs: list[InvoiceDoc] = []
        self.out: list[dict | None] = []
        self._waiting: list[tuple[int, int]] = []  # heap of (-weight, index)
        self._there: deque[int] = deque()  # sent to the second process, in order
        self._closed = False  # finish() has begun: the second process gets nothing more
        self._lock = threading.Lock()
        self.rendered_here = self.rendered_there = 0
        if helper is not None:
            helper.on_result = self._answered

    def add(self, doc: InvoiceDoc, weight: int) -> None:
        i = len(self.docs)
        self.docs.append(doc)
        self.out.append(None)
        with self._lock:
            if self.helper is not None and len(self._there) < AHEAD:
                self._send(i)
            else:
                heapq.heappush(self._waiting, (-(weight + DOC_WEIGHT), i))

    def _send(self, i: int) -> None:  # with the lock held
        self._there.append(i)
        self.helper.submit(self.docs[i])

    def _answered(self, rendered: dict) -> None:
        """The second process's answer for the oldest invoice it holds (its thread)."""
        with self._lock:
            i = self._there.popleft()
            self.out[i] = rendered
            self.rendered_there += 1
            if self._waiting and not self._closed:
                self._send(heapq.heappop(self._waiting)[1])

    def finish(self) -> list[dict]:
        while True:
            with self._lock:
                if not self._waiting:
                    self._closed = True
                    break
                i = heapq.heappop(self._waiting)[1]
            self.out[i] = draft_documents(self.docs[i])
            self.rendered_here += 1
        if self.helper is not None:
            self.helper.submit(None)  # no more
            self.helper.wait(lambda: not self._there)
        return self.out  # type: ignore[return-value]


class Helper:
    """The second process: renders each draft it is sent and answers it at once (in order),
    until ``None``; then ends."""

    def __init__(self):
        import multiprocessing as mp
        import queue

        ctx = mp.get_context("spawn")  # no fork: the caller may be a GUI with threads
        self.answers, child_out = ctx.Pipe(duplex=False)
        child_in, self.conn = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=serve, args=(child_in, child_out), daemon=True,
                                name="hjemmeprove-dokumenter")
        self.proc.start()
        child_in.close()
        child_out.close()
        self.on_result = None  # set by Lanes: called with each answer, in order
        self._cond = threading.Condition()
        self._error: str | None = None  # why it failed (Danish)
        self._ended = False  # no more answers will come
        # a sender thread: a month's invoice is larger than the pipe's buffer, and this
        # process would otherwise wait in send() instead of doing its own share
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._sender = threading.Thread(target=self._send_all, name="hjemmeprove-send",
                                        daemon=True)
        self._sender.start()
        self._receiver = threading.Thread(target=self._receive_all,
                                          name="hjemmeprove-modtag", daemon=True)
        self._receiver.start()

    def _send_all(self) -> None:
        while True:
            doc = self._outbox.get()
            if doc is _STOP:
                return
            try:
                self.conn.send(doc)
            except OSError:  # the process is gone: the receiver says how
                return
            if doc is None:
                return

    def _receive_all(self) -> None:
        while True:
            try:
                status, payload = self.answers.recv()
            except (EOFError, OSError):  # it ended (after None, or killed): wait() says which
                self._note(ended=True)
                return
            if status != "ok":
                self._note(error=payload)
                return
            try:
                self.on_result(payload)
            except Exception as e:  # noqa: BLE001 - an answer for nothing it was sent
                self._note(error=f"den svarede ufuldstændigt ({type(e).__name__})")
                return
            self._note()

    def _note(self, error: str | None = None, ended: bool = False) -> None:
        with self._cond:
            if error is not None and self._error is None:
                self._error = error
            self._ended = self._ended or ended or error is not None
            self._cond.notify_all()

    def submit(self, doc: InvoiceDoc | None) -> None:
        self._outbox.put(doc)

    def wait(self, done) -> None:
        """Until ``done()`` (every answer in), or raises ``DocumentError`` when the process
        failed or ended without answering everything."""
        with self._cond:
            while not done() and not self._ended:
                self._cond.wait(0.5)
            if done() and self._error is None:
                return
            error = self._error
        if error is None:
            self.proc.join(timeout=1)
            error = ("forbindelsen til den blev afbrudt" if self.proc.exitcode is None else
                     f"den stoppede uventet (kode {self.proc.exitcode})")
        raise _failed(error)

    def __enter__(self) -> Helper:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self._outbox.put(_STOP)  # ends the sender thread if it still waits for work
        try:
            self.conn.close()
        finally:
            self.proc.join(timeout=5)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join(timeout=5)
            self._receiver.join(timeout=5)  # it sees the end of the pipe once the process is gone
            self.answers.close()


_STOP = object()


def _failed(reason: str) -> DocumentError:
    log.error("dokumentprocessen fejlede: %s", reason)
    return DocumentError("fakturaernes dokumenter kunne ikke dannes (den anden proces, der "
                         f"danner PDF'erne: {reason}); ingen filer er skrevet – prøv igen")
