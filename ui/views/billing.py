"""Fakturering: pick a month, see per municipality the lines and totals, make drafts, preview
the statement and invoice PDF inside the program (QtPdf), issue, export the e-invoice, credit."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt, QTimer
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from hjemmeprove.domain import labels
from hjemmeprove.errors import ValidationError
from hjemmeprove.fileio import write_atomic
from ui import fmt
from ui.errors import show_error, show_info
from ui.models.table import ROW_ROLE, Column, RowTableModel
from ui.ops import Op
from ui.signals import emit_changed
from ui.widgets import ServiceView, SortProxy, Unavailable, confirm, table_view, title

try:  # the pyside6-pdf wheel
    from PySide6.QtPdf import QPdfDocument
except ImportError:  # pragma: no cover - shown as "ikke tilgængelig"
    QPdfDocument = None

STATUS_DA = labels.INVOICE_STATUS  # codes -> labels: hjemmeprove/domain/labels.py
KIND_DA = labels.INVOICE_KIND

BILL_COLUMNS = [
    Column("Kommune", lambda b: f"{b.municipality_name} ({b.municipality_code})"),
    Column("Besøg", lambda b: str(len(b.items)), sort=lambda b: len(b.items), right=True),
    Column("Fakturerbare", lambda b: str(b.billable_count), sort=lambda b: b.billable_count,
           right=True),
    Column("Mangler udfald", lambda b: str(len(b.missing)) if b.missing else "",
           sort=lambda b: len(b.missing), right=True,
           color=lambda b: "#c62828" if b.missing else None),
    Column("I alt", lambda b: fmt.kr(b.total), sort=lambda b: b.total, right=True),
    Column("Bemærk", lambda b: "; ".join(
        (["planlagte km"] if b.planned_km else []) + (["eksempeltakst"] if b.example_rates
                                                       else [])),
        color=lambda b: "#b26a00" if (b.planned_km or b.example_rates) else None),
    Column("Klar", lambda b: "ja" if b.complete else f"{len(b.problems)} mangler",
           sort=lambda b: len(b.problems),
           color=lambda b: None if b.complete else "#c62828"),
]
LINE_COLUMNS = [
    Column("Tekst", lambda ln: ln.text),
    Column("Antal", lambda ln: fmt.num(ln.quantity, {"stk.": 0, "min": 1}.get(ln.unit, 3)) +
           f" {ln.unit}", sort=lambda ln: ln.quantity, right=True),
    Column("Sats", lambda ln: fmt.num(ln.rate, 2), sort=lambda ln: ln.rate, right=True),
    Column("Beløb", lambda ln: fmt.kr(ln.amount), sort=lambda ln: ln.amount, right=True),
]
INVOICE_COLUMNS = [
    Column("Nr.", lambda i: str(i.number) if i.number else "—", sort=lambda i: i.number or 0,
           right=True),
    Column("Type", lambda i: KIND_DA.get(i.kind, i.kind)),
    Column("Kommune", lambda i: i.municipality_name),
    Column("Status", lambda i: STATUS_DA.get(i.status, i.status) +
           (" (krediteret)" if i.fully_credited else
            " (delvis krediteret)" if i.credited_by_id else ""),
           color=lambda i: "#2e7d32" if i.status == "issued" else "#555"),
    Column("Udstedt", lambda i: fmt.date(i.issue_date), sort=lambda i: i.issue_date),
    Column("Forfald", lambda i: fmt.date(i.due_date), sort=lambda i: i.due_date),
    Column("I alt", lambda i: fmt.kr(i.total), sort=lambda i: i.total, right=True),
]


def ask(parent, title: str, text: str) -> bool:
    """A yes/no question (tests replace the view's ``ask``)."""
    return confirm(parent, title, text)


def _months_back(today: dt.date, n: int = 15) -> list[str]:
    y, m = today.year, today.month
    out = []
    for _ in range(n):
        out.append(f"{y}-{m:02d}")
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return out


class PdfPreview(QWidget):
    """Shows PDF bytes inside the program: the pages drawn by QtPdf (PDFium) at the width of
    the panel, one below the other.

    Each page is rendered synchronously with ``QPdfDocument.render`` (a few ms a page; the
    first pages at once, the rest one per turn of the event loop) instead of by QPdfView:
    inside the main window QPdfView's threaded renderer often left the page white for many
    seconds or for good (seen offscreen, in the screenshots, where the same PDF rendered
    at once on its own)."""

    MARGIN = 8
    FIRST = 3  # pages drawn before show_pdf returns; the rest follow in the event loop

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self._buffer = None
        self.data = b""
        self._labels: list[QLabel] = []
        self._pending: list[int] = []
        if QPdfDocument is None:
            lay.addWidget(Unavailable("PDF-visning", "Pakken pyside6-pdf mangler."))
            self.view = None
            self.doc = None
            return
        self.doc = QPdfDocument(self)
        self.view = QScrollArea(self)
        self.view.setWidgetResizable(True)
        self.view.setStyleSheet("QScrollArea { background: #9a9a9a; }")
        self._pages = QWidget()
        self._pages.setStyleSheet("background: #9a9a9a;")
        self._column = QVBoxLayout(self._pages)
        self._column.setContentsMargins(self.MARGIN, self.MARGIN, self.MARGIN, self.MARGIN)
        self._column.setSpacing(self.MARGIN)
        self._column.addStretch(1)
        self.view.setWidget(self._pages)
        lay.addWidget(self.view)
        self._width = 0
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(150)
        self._resize_timer.timeout.connect(self._render_all)
        self._more = QTimer(self)
        self._more.setSingleShot(True)
        self._more.setInterval(0)
        self._more.timeout.connect(self._render_next)

    def show_pdf(self, data: bytes) -> None:
        self.data = data
        if self.view is None:
            return
        self.doc.close()
        self._buffer = QBuffer(self)
        self._buffer.setData(QByteArray(data))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.doc.load(self._buffer)
        for label in self._labels:
            label.deleteLater()
        self._labels = []
        for _ in range(self.doc.pageCount()):
            label = QLabel()
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self._column.insertWidget(self._column.count() - 1, label)
            self._labels.append(label)
        self.view.verticalScrollBar().setValue(0)
        self._render_all()

    def _page_width(self) -> int:
        bar = self.view.verticalScrollBar().sizeHint().width()
        return max(200, self.view.viewport().width() - 2 * self.MARGIN - bar)

    def _render_all(self) -> None:
        if self.view is None or not self._labels:
            return
        self._width = self._page_width()
        self._pending = list(range(len(self._labels)))
        for _ in range(min(self.FIRST, len(self._pending))):
            self._render_next(schedule=False)
        if self._pending:
            self._more.start()

    def _render_next(self, schedule: bool = True) -> None:
        if not self._pending:
            return
        page = self._pending.pop(0)
        if page < len(self._labels):
            size = self.doc.pagePointSize(page)
            w = self._width
            h = max(1, round(w * size.height() / max(1.0, size.width())))
            ratio = self.devicePixelRatioF()
            img = self.doc.render(page, QSize(round(w * ratio), round(h * ratio)))
            pix = QPixmap(img.size())  # PDFium leaves the paper transparent: white under it
            pix.fill(Qt.GlobalColor.white)
            painter = QPainter(pix)
            painter.drawImage(0, 0, img)
            painter.end()
            pix.setDevicePixelRatio(ratio)
            self._labels[page].setPixmap(pix)
            self._labels[page].setFixedSize(w, h)
        if schedule and self._pending:
            self._more.start()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        if self.view is not None and self._labels and abs(self._page_width() - self._width) > 2:
            self._resize_timer.start()

    def page_count(self) -> int:
        return self.doc.pageCount() if self.view is not None else 0

    def clear(self) -> None:
        self.data = b""
        if self.view is not None:
            self._pending = []
            for label in self._labels:
                label.deleteLater()
            self._labels = []
            self.doc.close()


class BillingView(ServiceView):
    areas = {"billing", "rates", "day_close"}

    def __init__(self, app, parent=None, today: dt.date | None = None):
        super().__init__(parent)
        self.app = app
        self.today = today or dt.date.today()
        self.bills = []
        self.invoices = []
        self.documents: dict[str, tuple[str, bytes]] = {}
        self.ask = lambda title_, text: ask(self, title_, text)
        self._keep_invoice_id: int | None = None  # selected again after a reload
        lay = QVBoxLayout(self)
        lay.addWidget(title("Fakturering", "Pr. kommune og kalendermåned (efter prøvetagnings"
                                           "dato): specificeret opgørelse og faktura (§10)."))
        self.billing = app.billing
        bar = QHBoxLayout()
        self.month = QComboBox()
        for ym in _months_back(self.today):
            self.month.addItem(fmt.month(ym).capitalize(), ym)
        self.month.setCurrentIndex(1)  # last month: the one to bill
        self.compute_button = QPushButton("Beregn")
        self.run_button = QPushButton("Dan kladder")
        self.run_button.setToolTip("Danner (eller fornyer) månedens fakturakladder")
        bar.addWidget(QLabel("Måned:"))
        bar.addWidget(self.month)
        bar.addWidget(self.compute_button)
        bar.addWidget(self.run_button)
        bar.addStretch(1)
        self.status = QLabel()
        bar.addWidget(self.status)
        lay.addLayout(bar)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Før udstedelse: linjer og totaler pr. kommune")
        bv = QVBoxLayout(box)
        self.bill_model = RowTableModel(BILL_COLUMNS)
        self.bill_table = table_view(SortProxy(self.bill_model, self))
        bv.addWidget(self.bill_table, 2)
        self.line_model = RowTableModel(LINE_COLUMNS)
        self.line_table = table_view(SortProxy(self.line_model, self))
        bv.addWidget(self.line_table, 2)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #444;")
        # the total and a line per ferry crossing: as many lines as the month has
        # crossings, so they scroll in a few lines' height instead of growing the window
        notes_area = QScrollArea()
        notes_area.setWidgetResizable(True)
        notes_area.setFrameShape(QScrollArea.Shape.NoFrame)
        notes_area.setWidget(self.notes)
        line = self.notes.fontMetrics().lineSpacing()
        notes_area.setMinimumHeight(2 * line + 6)
        notes_area.setMaximumHeight(5 * line + 6)
        bv.addWidget(notes_area)
        dh = QHBoxLayout()
        self.duplicate_button = QPushButton("Afgør dublet…")
        self.duplicate_button.setToolTip("Samme borger to gange samme dag: fakturér begge, "
                                         "eller drop det ene besøgs faste pris")
        self.duplicate_button.setEnabled(False)
        dh.addWidget(self.duplicate_button)
        dh.addStretch(1)
        bv.addLayout(dh)
        lv.addWidget(box, 3)
        ibox = QGroupBox("Fakturaer og kreditnotaer for måneden")
        iv = QVBoxLayout(ibox)
        self.inv_model = RowTableModel(INVOICE_COLUMNS)
        self.inv_table = table_view(SortProxy(self.inv_model, self))
        iv.addWidget(self.inv_table)
        h = QHBoxLayout()
        self.issue_button = QPushButton("Udsted")
        self.issue_all_button = QPushButton("Udsted alle")
        self.issue_all_button.setToolTip("Udsteder alle månedens kladder")
        self.export_button = QPushButton("Eksportér e-faktura…")
        self.export_button.setToolTip("Kun udstedte fakturaer: en kladde sendes aldrig")
        self.files_button = QPushButton("Gem filer…")
        self.credit_button = QPushButton("Kreditnota…")
        for b in (self.issue_button, self.issue_all_button, self.export_button,
                  self.files_button, self.credit_button):
            b.setEnabled(False)
            h.addWidget(b)
        h.addStretch(1)
        iv.addLayout(h)
        lv.addWidget(ibox, 2)
        split.addWidget(left)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        toggle = QHBoxLayout()
        self.show_invoice = QPushButton("Faktura")
        self.show_statement = QPushButton("Opgørelse")
        group = QButtonGroup(self)
        for b in (self.show_invoice, self.show_statement):
            b.setCheckable(True)
            group.addButton(b)
            toggle.addWidget(b)
        self.show_invoice.setChecked(True)
        toggle.addStretch(1)
        rv.addLayout(toggle)
        self.preview = PdfPreview()
        rv.addWidget(self.preview, 1)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 420])
        self.splitter = split
        lay.addWidget(split, 1)

        self.compute_button.clicked.connect(self.compute)
        self.run_button.clicked.connect(self.run_month)
        self.month.currentIndexChanged.connect(self.reload)
        self.bill_table.selectionModel().currentRowChanged.connect(self._bill_selected)
        self.inv_table.selectionModel().currentRowChanged.connect(self._invoice_selected)
        self.issue_button.clicked.connect(lambda: self.issue())
        self.issue_all_button.clicked.connect(lambda: self.issue_all())
        self.duplicate_button.clicked.connect(lambda: self.decide_duplicate())
        self.export_button.clicked.connect(lambda: self.export_einvoice())
        self.files_button.clicked.connect(lambda: self.save_files())
        self.credit_button.clicked.connect(lambda: self.credit())
        self.show_invoice.toggled.connect(self._show_doc)

    # --- loading ----------------------------------------------------------------------------

    def current_month(self) -> str:
        return self.month.currentData()

    def set_month(self, ym: str) -> None:
        i = self.month.findData(ym)
        if i < 0:
            self.month.addItem(fmt.month(ym).capitalize(), ym)
            i = self.month.count() - 1
        self.month.setCurrentIndex(i)

    def reload(self) -> None:
        self.compute()

    def compute(self) -> None:
        month = self.current_month()
        billing = self.billing

        def work():
            bills = billing.preview(month)
            if isinstance(bills, tuple):  # tolerate (bills, shares)
                bills = bills[0]
            return bills, billing.list_invoices(month)

        self.status.setText("Beregner…")
        self._generation = getattr(self, "_generation", 0) + 1
        gen = self._generation
        Op(self, work).success(lambda res: self._computed(res) if gen == self._generation
                               else None).failure(self._failed).run_in_background()

    def _failed(self, exc) -> None:
        self.status.setText("")
        self.bill_model.set_rows([])
        self.line_model.set_rows([])
        self.notes.setText(f'<span style="color:#c62828">{exc}</span>')
        from hjemmeprove.errors import HjemmeproveError
        if not isinstance(exc, HjemmeproveError):
            show_error(self, exc)

    def _computed(self, result) -> None:
        bills, invoices = result
        self.bills = bills
        self.bill_model.set_rows(bills)
        self.bill_table.resizeColumnsToContents()
        total = sum((b.total for b in bills), start=0)
        missing = sum(len(b.missing) for b in bills)
        self.status.setText(f"{len(bills)} kommuner, i alt {fmt.kr(total)}" +
                            (f" · {missing} besøg mangler udfald" if missing else ""))
        self._set_invoices(invoices)
        if bills:
            self.bill_table.selectRow(0)
            self._bill_selected(self.bill_table.currentIndex(), None)
        else:
            self.line_model.set_rows([])
            self.notes.setText("Ingen besøg at fakturere i måneden.")

    def _set_invoices(self, invoices) -> None:
        keep = self._keep_invoice_id
        if keep is None and self.current_invoice() is not None:
            keep = self.current_invoice().id
        self._keep_invoice_id = None
        self.invoices = invoices
        self.inv_model.set_rows(invoices)
        self.inv_table.resizeColumnsToContents()
        self.issue_all_button.setEnabled(any(i.status == "draft" for i in invoices))
        if invoices:
            self.select_invoice(keep)
        else:
            self.preview.clear()
            for b in (self.issue_button, self.export_button, self.files_button,
                      self.credit_button):
                b.setEnabled(False)

    def select_invoice(self, invoice_id: int | None) -> None:
        """Selects the invoice with this id (the first row when it is not listed)."""
        model = self.inv_table.model()
        row = 0
        for r in range(model.rowCount()):
            inv = model.index(r, 0).data(ROW_ROLE)
            if inv is not None and inv.id == invoice_id:
                row = r
                break
        self.inv_table.selectRow(row)
        self._invoice_selected(self.inv_table.currentIndex(), None)

    def bill_for(self, code: int):
        return next((b for b in self.bills if b.municipality_code == code), None)

    def _bill_selected(self, current, _prev) -> None:
        if not current.isValid():
            return
        bill = current.data(ROW_ROLE)
        self.line_model.set_rows(bill.lines)
        self.line_table.resizeColumnsToContents()
        self.duplicate_button.setEnabled(any(not g.decided for g in bill.duplicates))
        parts = [f"<b>I alt {fmt.kr(bill.total)}</b>"]
        if bill.problems:
            shown = "<br>".join(f"• {p}" for p in bill.problems[:8])
            parts.append(f'<span style="color:#c62828"><b>Kan ikke udstedes endnu:</b><br>'
                         f'{shown}{"<br>…" if len(bill.problems) > 8 else ""}</span>')
        for g in bill.duplicates:
            if g.decided:
                parts.append(g.text)
        if bill.missing and not bill.problems:
            names = ", ".join(f"{fmt.date(m.date)} {m.citizen_name}" for m in bill.missing[:6])
            parts.append(f'<span style="color:#c62828">Mangler udfald: {names}'
                         f'{" …" if len(bill.missing) > 6 else ""}</span>')
        parts += [n for n in bill.notes if len(n) < 200]
        self.notes.setText("<br>".join(parts))
        self.notes.setToolTip("Indstillinger brugt:\n" + "\n".join(
            f"{k}: {v}" for k, v in bill.settings))

    def current_invoice(self):
        idx = self.inv_table.currentIndex()
        return idx.data(ROW_ROLE) if idx.isValid() else None

    def _invoice_selected(self, current, _prev) -> None:
        inv = current.data(ROW_ROLE) if current.isValid() else None
        self.issue_button.setEnabled(bool(inv and inv.status == "draft"))
        self.export_button.setEnabled(bool(inv and inv.status == "issued"))
        self.files_button.setEnabled(inv is not None)
        self.credit_button.setEnabled(bool(inv and inv.status == "issued"
                                           and inv.kind == "invoice" and not inv.fully_credited))
        if inv is None:
            return
        Op(self, lambda: self.billing.documents(inv.id)).success(self._got_documents) \
            .run_in_background()

    def _got_documents(self, documents) -> None:
        self.documents = documents
        self._show_doc()

    def _show_doc(self, *_args) -> None:
        kind = "invoice_pdf" if self.show_invoice.isChecked() else "statement_pdf"
        if kind in self.documents:
            self.preview.show_pdf(self.documents[kind][1])

    # --- actions ----------------------------------------------------------------------------

    def run_month(self) -> None:
        month = self.current_month()
        Op(self, lambda _progress: self.billing.run(month)).with_progress(
            f"Danner fakturakladder for {fmt.month(month)}…") \
            .success(lambda _r: (emit_changed("billing"),)).run_in_background()

    def issue(self) -> None:
        inv = self.current_invoice()
        if inv is None or inv.status != "draft":
            return
        lines = len(inv.lines)
        if not self.ask("Udsted faktura",
                        f"Udsted fakturaen til {inv.municipality_name} Kommune for "
                        f"{fmt.month(inv.month)}: {lines} linje{'r' if lines != 1 else ''}, "
                        f"i alt {fmt.kr(inv.total)}?\n\nEn udstedt faktura kan ikke ændres; "
                        "den kan kun krediteres."):
            return
        self._keep_invoice_id = inv.id
        Op(self, lambda: self.billing.issue(inv.id)).success(self._issued) \
            .failure(self._issue_failed).run_in_background()

    def _issue_failed(self, exc) -> None:
        self._keep_invoice_id = None
        show_error(self, exc)
        emit_changed("billing")  # a stale draft: show the facts as they are now

    def _issued(self, info) -> None:
        self._keep_invoice_id = info.id
        emit_changed("billing")
        show_info(self, "Udstedt", f"Faktura nr. {info.number} til {info.municipality_name} er "
                                   f"udstedt ({fmt.kr(info.total)}).")

    def issue_all(self) -> None:
        drafts = [i for i in self.invoices if i.status == "draft" and i.kind == "invoice"]
        if not drafts:
            return
        total = sum((i.total for i in drafts), start=0)
        names = ", ".join(i.municipality_name for i in drafts)
        if not self.ask("Udsted alle",
                        f"Udsted {len(drafts)} fakturaer for {fmt.month(self.current_month())} "
                        f"({names}), i alt {fmt.kr(total)}?\n\nUdstedte fakturaer kan ikke "
                        "ændres; de kan kun krediteres."):
            return
        month = self.current_month()

        def done(infos):
            if infos:
                self._keep_invoice_id = infos[-1].id
            emit_changed("billing")
            show_info(self, "Udstedt", "\n".join(
                f"Nr. {i.number}: {i.municipality_name} {fmt.kr(i.total)}" for i in infos))

        Op(self, lambda: self.billing.issue_month(month)).success(done) \
            .failure(self._issue_failed).run_in_background()

    def decide_duplicate(self, choice: str | None = None) -> None:
        """The first undecided duplicate of the selected municipality: bill every visit, or
        drop the fee of all but the first ("drop")."""
        idx = self.bill_table.currentIndex()
        bill = idx.data(ROW_ROLE) if idx.isValid() else None
        group = next((g for g in (bill.duplicates if bill else []) if not g.decided), None)
        if group is None:
            return
        keep, *others = group.visit_ids
        options = ["Fakturér alle besøg",
                   f"Drop {', '.join(str(o) for o in others)} (fakturér kun {keep})"]
        if choice is None:
            picked, ok = QInputDialog.getItem(self, "Dublet", group.text, options, 0, False)
            if not ok:
                return
            choice = "bill" if picked == options[0] else "drop"
        bill_ids, drop_ids = ((group.visit_ids, ()) if choice == "bill"
                              else ((keep,), tuple(others)))
        Op(self, lambda: self.billing.decide_duplicates(bill_ids, drop_ids)) \
            .success(lambda _r: emit_changed("billing")).run_in_background()

    def export_einvoice(self, path: str | None = None) -> None:
        inv = self.current_invoice()
        if inv is None:
            return
        if inv.status != "issued":
            from hjemmeprove.billing.service import DRAFT_NOT_SENDABLE

            show_error(self, ValidationError(DRAFT_NOT_SENDABLE, "e-faktura"))
            return
        if path is None:
            name = self.documents.get("oioubl", (f"efaktura-{inv.id}.xml", b""))[0]
            path, _ = QFileDialog.getSaveFileName(self, "Eksportér e-faktura (OIOUBL)", name,
                                                  "OIOUBL (*.xml)")
            if not path:
                return
        billing = self.billing
        Op(self, lambda: write_atomic(path, billing.document(inv.id, "oioubl"))) \
            .success(lambda _n: show_info(self, "Eksporteret", f"E-fakturaen er gemt i {path}")) \
            .run_in_background()

    def save_files(self, folder: str | None = None) -> None:
        inv = self.current_invoice()
        if inv is None:
            return
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Gem opgørelse og faktura i mappe")
            if not folder:
                return
        Op(self, lambda: self.billing.write_files(inv.id, folder)) \
            .success(lambda files: show_info(self, "Gemt", "\n".join(files.values()))) \
            .run_in_background()

    def credit(self, reason: str | None = None, visit_ids: list[int] | None = None) -> None:
        """A credit note for the selected invoice: in full, or only some of its visits
        (``visit_ids``; asked for when the reason is asked for, blank = the whole invoice)."""
        inv = self.current_invoice()
        if inv is None:
            return
        if reason is None:
            reason, ok = QInputDialog.getText(self, "Kreditnota",
                                              f"Årsag til kreditering af faktura {inv.number}:")
            if not ok:
                return
            text, ok = QInputDialog.getText(
                self, "Kreditnota", "Kreditér kun disse besøg (numre adskilt af komma; tomt = "
                                    "hele fakturaen):")
            if not ok:
                return
            try:
                visit_ids = [int(x) for x in text.replace(";", ",").split(",") if x.strip()] \
                    or None
            except ValueError:
                show_error(self, ValidationError(f"'{text}' er ikke besøgsnumre", "besøg"))
                return
        self._keep_invoice_id = inv.id
        Op(self, lambda: self.billing.credit_note(inv.id, reason, visit_ids=visit_ids)) \
            .success(lambda _r: emit_changed("billing")).run_in_background()

    def save_layout(self, s, key: str) -> None:
        if hasattr(self, "splitter"):
            s.setValue(f"{key}/splitter", self.splitter.saveState())

    def restore_layout(self, s, key: str) -> None:
        state = s.value(f"{key}/splitter")
        if state is not None and hasattr(self, "splitter"):
            self.splitter.restoreState(state)


