"""Route sheets, citizen letters and replies to municipalities, printed from the program.

The PDFs come from the core (hjemmeprove.documents.route_sheet, citizen_letter, reply) and
are shown inside the program (QtPdf) with "Udskriv…" (the system's printer dialog) and
"Gem som PDF…". Where a core document module is missing, an HTML version built here from the
planning service's plain data is shown instead. CPR is masked on route sheets and replies.
"""

from __future__ import annotations

import datetime as dt
import html as _html

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPageLayout, QPageSize, QPainter, QTextDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
)

from ui import fmt

CSS = """
body { font-family: 'DejaVu Sans'; font-size: 10pt; }
h1 { font-size: 15pt; margin-bottom: 2px; } h2 { font-size: 12pt; margin: 10px 0 2px 0; }
table { border-collapse: collapse; width: 100%; }
th { background: #e8ecf2; text-align: left; padding: 3px; }
td { border-bottom: 1px solid #ccc; padding: 3px; vertical-align: top; }
.small { color: #555; font-size: 8pt; }
"""


def e(x) -> str:
    return _html.escape("" if x is None else str(x))


def _window(stop) -> str:
    w0, w1 = stop.window
    return f"{fmt.clock(w0)}–{fmt.clock(w1)}" if w0 and w1 else ""


def route_sheets_html(routes, department) -> str:
    parts = [f"<html><head><style>{CSS}</style></head><body>"]
    for i, r in enumerate(routes):
        if i:
            parts.append('<p style="page-break-before: always"></p>')
        parts.append(f"<h1>Ruteseddel – {e(r.analyst)}</h1>"
                     f"<p>{e(fmt.date(r.date))} · {len(r.stops)} besøg · "
                     f"{e(fmt.num(r.km, 1))} km planlagt · start og slut: "
                     f"{e(department.lab_address if department else 'laboratoriet')}</p>")
        parts.append("<table><tr><th>#</th><th>Ankomst</th><th>Vindue</th><th>Borger</th>"
                     "<th>Adresse</th><th>Adgang og bemærkninger</th><th>Udfald</th></tr>")
        for n, s in enumerate(r.stops, start=1):
            notes = "; ".join(x for x in (s.access_info, s.presence_required, s.identity_check,
                                          s.note, "EKG" if s.ekg else "") if x)
            ferry = f"<br><span class='small'>færge {e(s.ferry_link)}</span>" \
                if s.leg_ferry_minutes else ""
            parts.append(f"<tr><td>{n}</td><td>{e(fmt.clock(s.arrival))}</td>"
                         f"<td>{e(_window(s))}</td><td>{e(s.citizen_name)}<br>"
                         f"<span class='small'>{e(s.cpr_masked)} · {e(s.phone)}</span></td>"
                         f"<td>{e(s.address)}{ferry}</td><td>{e(notes)}</td>"
                         "<td>☐ taget<br>☐ ikke hjemme<br>☐ afvist</td></tr>")
        parts.append("</table><p>Km-tæller start: ________ slut: ________ · "
                     "Færgeminutter: ________</p>")
    parts.append("</body></html>")
    return "".join(parts)


def letters_html(routes, department) -> str:
    dept = department.name if department else "Klinisk Biokemisk Afdeling"
    phone = department.contact_phone if department else ""
    parts = [f"<html><head><style>{CSS}</style></head><body>"]
    first = True
    for r in routes:
        for s in r.stops:
            if not first:
                parts.append('<p style="page-break-before: always"></p>')
            first = False
            parts.append(
                f"<p>{e(dept)}</p><p><br>{e(s.citizen_name)}<br>{e(s.address)}</p>"
                f"<p style='text-align:right'>{e(fmt.date(dt.date.today()))}</p>"
                "<h2>Blodprøvetagning i dit hjem</h2>"
                f"<p>Kære {e(s.citizen_name)}</p>"
                f"<p>Din kommune har bestilt blodprøvetagning i dit hjem. En bioanalytiker "
                f"kommer <b>{e(fmt.date(r.date))}</b> mellem kl. <b>{e(_window(s) or '–')}</b>."
                "</p><p>Har du brug for at aflyse, så kontakt hjemmeplejen eller os hurtigst "
                f"muligt{(' på telefon ' + e(phone)) if phone else ''}.</p>"
                f"<p>Venlig hilsen<br>{e(dept)}</p>")
    parts.append("</body></html>")
    return "".join(parts)


def replies_html(rows) -> str:
    parts = [f"<html><head><style>{CSS}</style></head><body>"]
    by_muni: dict = {}
    for row in rows:
        by_muni.setdefault((row.municipality_code, row.municipality), []).append(row)
    for i, ((code, name), items) in enumerate(sorted(by_muni.items())):
        if i:
            parts.append('<p style="page-break-before: always"></p>')
        parts.append(f"<h1>Svar til {e(name)} Kommune</h1><p>Planlagt blodprøvetagning i eget "
                     f"hjem (§5): dato og omtrentligt tidspunkt. Sendt "
                     f"{e(fmt.datetime(items[0].sent_at))}.</p>")
        parts.append("<table><tr><th>Henv.</th><th>Borger</th><th>Adresse</th><th>Dato</th>"
                     "<th>Tidsvindue</th></tr>")
        for row in items:
            parts.append(f"<tr><td>{row.request_id}</td><td>{e(row.citizen_name)} "
                         f"({e(row.cpr_masked)})</td><td>{e(row.address)}</td>"
                         f"<td>{e(fmt.date(row.date))}</td><td>{e(fmt.clock(row.window_start))}"
                         f"–{e(fmt.clock(row.window_end))}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def html_to_pdf(html: str, path: str) -> None:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(path)
    printer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                      QPageLayout.Orientation.Portrait,
                                      printer.pageLayout().margins()))
    doc = QTextDocument()
    doc.setHtml(html)
    doc.print_(printer)


class DocumentDialog(QDialog):
    def __init__(self, parent, title: str, html: str):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(820, 700)
        self.html = html
        lay = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setHtml(html)
        lay.addWidget(self.browser)
        buttons = QDialogButtonBox()
        pr = buttons.addButton("Udskriv…", QDialogButtonBox.ButtonRole.ActionRole)
        pdf = buttons.addButton("Gem som PDF…", QDialogButtonBox.ButtonRole.ActionRole)
        close = buttons.addButton("Luk", QDialogButtonBox.ButtonRole.RejectRole)
        pr.clicked.connect(self.print_)
        pdf.clicked.connect(self.save_pdf)
        close.clicked.connect(self.reject)
        lay.addWidget(buttons)

    def print_(self) -> None:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        if QPrintDialog(printer, self).exec() == QDialog.DialogCode.Accepted:
            self.browser.document().print_(printer)

    def save_pdf(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Gem som PDF",
                                                  self.windowTitle() + ".pdf", "PDF (*.pdf)")
        if path:
            html_to_pdf(self.html, path)


_open: list = []


def show_document(parent, title: str, html: str) -> DocumentDialog:
    dlg = DocumentDialog(parent, title, html)
    _open.append(dlg)
    dlg.finished.connect(lambda _r: _open.remove(dlg) if dlg in _open else None)
    dlg.open()
    return dlg


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
            Path(path).write_bytes(data)

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
