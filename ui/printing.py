"""Route sheets, citizen letters and replies to municipalities, printed from the program.

The PDFs come from the core (hjemmeprove.documents.route_sheet, citizen_letter, reply) and
are shown inside the program (QtPdf) with "Udskriv…" (the system's printer dialog) and
"Gem som PDF…". There is no second, HTML version: the core's documents are the only ones, and
an error while building them is shown as the error it is. CPR is masked on route sheets and
replies.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog, QTabWidget, QVBoxLayout

from hjemmeprove.fileio import OutputError, write_atomic
from ui.errors import show_error

_open: list = []


class PdfDialog(QDialog):
    """One or more PDFs (a tab each) shown inside the program, to print or save."""

    def __init__(self, parent, title: str, documents: list[tuple[str, str, bytes]]):
        from ui.views.billing import PdfPreview

        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(860, 760)
        self.documents = documents
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.previews = []
        for tab_title, _filename, data in documents:
            preview = PdfPreview()
            preview.show_pdf(data)
            self.previews.append(preview)
            self.tabs.addTab(preview, tab_title)
        lay.addWidget(self.tabs)
        buttons = QDialogButtonBox()
        pr = buttons.addButton("Udskriv…", QDialogButtonBox.ButtonRole.ActionRole)
        pdf = buttons.addButton("Gem som PDF…", QDialogButtonBox.ButtonRole.ActionRole)
        close = buttons.addButton("Luk", QDialogButtonBox.ButtonRole.RejectRole)
        pr.clicked.connect(self.print_)
        pdf.clicked.connect(lambda: self.save_pdf())
        close.clicked.connect(self.reject)
        lay.addWidget(buttons)

    def current(self) -> tuple[str, str, bytes]:
        return self.documents[self.tabs.currentIndex()]

    def save_pdf(self, path: str | None = None) -> None:
        _title, filename, data = self.current()
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Gem som PDF", filename, "PDF (*.pdf)")
        if path:
            try:
                write_atomic(path, data)  # whole or not at all, owner-only (full CPR)
            except OutputError as e:
                show_error(self, e)

    def print_(self) -> None:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        if QPrintDialog(printer, self).exec() != QDialog.DialogCode.Accepted:
            return
        doc = self.previews[self.tabs.currentIndex()].doc
        painter = QPainter(printer)
        for page in range(doc.pageCount()):
            if page:
                printer.newPage()
            rect = painter.viewport()
            size = doc.pagePointSize(page).toSize().scaled(rect.size(),
                                                            Qt.AspectRatioMode.KeepAspectRatio)
            image = doc.render(page, QSize(size.width(), size.height()))
            painter.drawImage(0, 0, image)
        painter.end()


def show_pdfs(parent, title: str, documents: list[tuple[str, str, bytes]]) -> PdfDialog:
    dlg = PdfDialog(parent, title, documents)
    _open.append(dlg)
    dlg.finished.connect(lambda _r: _open.remove(dlg) if dlg in _open else None)
    dlg.open()
    return dlg


def route_sheet_pdfs(planning, routes) -> list[tuple[str, str, bytes]]:
    from hjemmeprove.documents import route_sheet
    from hjemmeprove.services.planning import route_sheet_filename

    name, _hospital, lab = planning.department_header()
    return [(r.analyst, route_sheet_filename(r.date, r.analyst),
             route_sheet.render(r, name, lab)) for r in routes]


def letter_pdfs(planning, first, last) -> list[tuple[str, str, bytes]]:
    from hjemmeprove.documents import citizen_letter

    letters = planning.letters(first, last)
    if not letters:
        return []
    paper = sum(1 for x in letters if getattr(x, "paper", False))
    return [(f"{len(letters)} breve ({paper} på papir)", f"borgerbreve-{first}.pdf",
             citizen_letter.render_many(letters))]


def reply_pdfs(planning, rows) -> list[tuple[str, str, bytes]]:
    from hjemmeprove.documents import reply

    name, _h, _l = planning.department_header()
    out = []
    for code, group in reply.by_municipality(rows).items():
        muni = group[0].municipality
        out.append((muni, f"svar-{code}-{group[0].date}.pdf", reply.render_pdf(group, name)))
    return out


def documents(kind: str, planning, routes, first, last, rows) -> list[tuple[str, str, bytes]]:
    """The PDFs the planning view prints: ``route_sheets`` (the day's ``routes``), ``letters``
    (the period ``first``–``last``) or ``replies`` (the ``rows`` just sent)."""
    if kind == "route_sheets":
        return route_sheet_pdfs(planning, routes)
    if kind == "letters":
        return letter_pdfs(planning, first, last)
    if kind == "replies":
        return reply_pdfs(planning, rows)
    raise ValueError(f"unknown document kind {kind!r}")
