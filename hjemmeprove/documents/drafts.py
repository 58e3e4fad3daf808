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


def serve(conn) -> None:  # pragma: no cover (runs in the second process)
    """Receives one list of ``InvoiceDoc``, answers ("ok", [each one's documents]) or
    ("error", the exception's type), and ends. Plain data both ways; no file, no database."""
    try:
        # the renderers and fonts first, while the parent saves the drafts
        from hjemmeprove.documents import common, invoice_pdf, statement  # noqa: F401

        common.styles()
        try:
            docs = conn.recv()
        except EOFError:
            return  # the parent needed none
        try:
            out = [draft_documents(d) for d in docs]
        except Exception as e:  # noqa: BLE001 - reported to the parent, which raises it
            log.exception("dokumentprocessen")
            conn.send(("error", type(e).__name__))
            return
        conn.send(("ok", out))
    finally:
        conn.close()
