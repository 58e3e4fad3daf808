"""Rendering a run's draft documents, on both cores when the month is large.

A month's PDFs are most of a billing run's time, and each invoice's documents depend only on
its ``InvoiceDoc`` (plain data). When a run has many visits, a second process (``Helper``)
renders part of the invoices' documents while this one renders the rest: it is started
before the bills are computed, so its start-up (imports, fonts) overlaps with computing and
saving the drafts. Only plain data crosses the process boundary: ``InvoiceDoc`` one way, each invoice's
``{kind: (filename, bytes)}`` the other. The second process never opens the database and never
writes a file: the caller writes every file (``fileio``) once all of them are rendered, so a
failure in the second process is a Danish ``DocumentError`` with no file written.

Started with ``spawn`` (no fork: the caller may be a GUI with threads); the bundle's entry
point calls ``multiprocessing.freeze_support()`` so a frozen program can start it.
"""

from __future__ import annotations

import logging
import os

from hjemmeprove.documents.drafts import draft_documents, serve
from hjemmeprove.documents.model import InvoiceDoc
from hjemmeprove.errors import HjemmeproveError

log = logging.getLogger(__name__)

# Below this many visits in a run the second process's start-up costs more than it saves.
MIN_ITEMS = 1500
# An invoice's fixed part (its invoice PDF, the statement's totals, lines and settings) in
# visits' worth of work: how the invoices are shared between the two processes.
DOC_WEIGHT = 60


class DocumentError(HjemmeproveError):
    """The documents could not be rendered; in Danish, nothing written."""


def worth_a_helper(n_items: int, processes: int) -> bool:
    """Whether a run of about ``n_items`` visits renders in two processes: only with two
    cores or more, and only when it pays for the start-up."""
    return processes > 1 and n_items >= MIN_ITEMS and (os.cpu_count() or 1) > 1


def split(sizes: list[int]) -> tuple[list[int], list[int]]:
    """(indexes rendered here, indexes for the second process) of invoices with ``sizes``
    visits: the largest first, each to the lighter side. This process also builds every
    invoice's data and writes the files (about a third of the rendering's work): it starts
    with that much."""
    load = [sum(sizes) // 3, 0]
    sides: tuple[list[int], list[int]] = ([], [])
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        side = 0 if load[0] <= load[1] else 1
        sides[side].append(i)
        load[side] += sizes[i] + DOC_WEIGHT
    return sides[0], sides[1]


def render_drafts(make_doc, sizes: list[int], helper: Helper | None) -> list[dict]:
    """Every draft's documents, in order: ``make_doc(i)`` gives the i-th ``InvoiceDoc``, of
    ``sizes[i]`` visits. With a ``helper``, its share is built and sent first, one by one
    (it renders the first while the next is built), then this process renders the rest."""
    if helper is None:
        return [draft_documents(make_doc(i)) for i in range(len(sizes))]
    here, there = split(sizes)
    for i in there:
        helper.submit(make_doc(i))
    helper.submit(None)  # no more
    out: list[dict | None] = [None] * len(sizes)
    for i in here:
        out[i] = draft_documents(make_doc(i))
    for i, rendered in zip(there, helper.results(len(there))):
        out[i] = rendered
    return out


class Helper:
    """The second process: renders the drafts it is sent (until ``None``), answers with all
    of them, then ends."""

    def __init__(self):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # no fork: the caller may be a GUI with threads
        self.conn, child_end = ctx.Pipe()
        self.proc = ctx.Process(target=serve, args=(child_end,), daemon=True,
                                name="hjemmeprove-dokumenter")
        self.proc.start()
        child_end.close()
        # a sender thread: a month's invoice is larger than the pipe's buffer, and while the
        # second process renders one invoice this process would otherwise wait in send()
        # instead of rendering its own share
        import queue
        import threading

        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._send_error: OSError | None = None
        self._sender = threading.Thread(target=self._send_all, name="hjemmeprove-send",
                                        daemon=True)
        self._sender.start()

    def _send_all(self) -> None:
        while True:
            doc = self._outbox.get()
            try:
                self.conn.send(doc)
            except OSError as e:  # the process is gone: results() says so
                self._send_error = e
                return
            if doc is None:
                return

    def submit(self, doc: InvoiceDoc | None) -> None:
        if self._send_error is not None:
            raise _failed("den stoppede, før den fik fakturaerne") from self._send_error
        self._outbox.put(doc)

    def results(self, n: int) -> list[dict]:
        try:
            while not self.conn.poll(0.1):
                if not self.proc.is_alive() and not self.conn.poll(0):
                    raise EOFError
            status, payload = self.conn.recv()
        except (EOFError, OSError) as e:
            self.proc.join(timeout=1)
            reason = ("forbindelsen til den blev afbrudt" if self.proc.exitcode is None else
                      f"den stoppede uventet (kode {self.proc.exitcode})")
            raise _failed(reason) from e
        if status != "ok" or len(payload) != n:
            raise _failed(payload if status != "ok" else "den svarede ufuldstændigt")
        return payload

    def __enter__(self) -> Helper:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self._outbox.put(None)  # ends the sender thread if it still waits for work
        try:
            self.conn.close()
        finally:
            self.proc.join(timeout=5)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join(timeout=5)


def _failed(reason: str) -> DocumentError:
    log.error("dokumentprocessen fejlede: %s", reason)
    return DocumentError("fakturaernes dokumenter kunne ikke dannes (den anden proces, der "
                         f"danner PDF'erne: {reason}); ingen filer er skrevet – prøv igen")

