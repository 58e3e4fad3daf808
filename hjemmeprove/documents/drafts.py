"""A draft invoice's documents from its ``InvoiceDoc``, and the loop of the second process that
renders part of a large billing run's drafts (``billing.render``).

Kept apart from ``billing`` so that the second process imports only the renderers (reportlab,
the fonts), not the database layer: its start-up is part of the run's time.
"""

from __future__ import annotations

import logging

from hjemmeprove.documents.model import InvoiceDoc, filenames

log = logging.getLogger(__name__)


def draft_documents(doc: InvoiceDoc) -> dict[str, tuple[str, bytes]]:
    """A draft's preview documents: PDFs (marked KLADDE) and the CSV, never an OIOUBL file."""
    from hjemmeprove.documents import invoice_pdf, statement

    names = filenames(doc)
    return {"invoice_pdf": (names["invoice_pdf"], invoice_pdf.render(doc)),
            "statement_pdf": (names["statement_pdf"], statement.render_pdf(doc)),
            "statement_csv": (names["statement_csv"], statement.render_csv(doc))}


def serve(conn_in, conn_out) -> None:  # pragma: no cover (runs in the second process)
    """Receives ``InvoiceDoc`` after ``InvoiceDoc`` until ``None`` and answers each at once,
    in order: ("ok", its documents) or ("error", the exception's type), after which it answers
    nothing more; then ends. Plain data both ways; no file, no database."""
    try:
        # the renderers and fonts first, while the parent computes the bills
        from hjemmeprove.documents import common, invoice_pdf, statement  # noqa: F401

        common.styles()
        failed = False
        while True:
            try:
                doc = conn_in.recv()
            except EOFError:
                return  # the parent is gone or needed no more
            if doc is None:
                return
            if failed:
                continue
            try:
                answer = ("ok", draft_documents(doc))
            except Exception as e:  # noqa: BLE001 - reported to the parent, which raises
                log.exception("dokumentprocessen")
                answer, failed = ("error", type(e).__name__), True
            conn_out.send(answer)
    finally:
        conn_in.close()
        conn_out.close()
