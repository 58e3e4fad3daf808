"""Kontakt: the day's reminder list. The coordinator sees whom to remind for the coming
visits (phone, channel, status), marks calls (talt med / ikke nået), records a citizen's
consent and preferred channel, and sends the day's SMS through the department's gateway (or
writes them to a CSV as a dry run). The rules are the core's (hjemmeprove/contact)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from hjemmeprove.domain import labels
from hjemmeprove.errors import ValidationError
from ui import fmt
from ui.errors import show_error
from ui.models.contact import ContactModel
from ui.models.table import ROW_ROLE
from ui.ops import Op
from ui.signals import emit_changed
from ui.widgets import (
    DayNavigation,
    ServiceView,
    SortProxy,
    day_bar,
    error_label,
    table_view,
    title,
)


class ContactView(DayNavigation, ServiceView):
    areas = {"planning", "requests", "contact", "settings"}

    def __init__(self, app, parent=None, today: dt.date | None = None):
        super().__init__(parent)
        self.app = app
        self.today = today or dt.date.today()
        self.contact = app.contact
        self.listing = None
        lay = QVBoxLayout(self)
        lay.addWidget(title("Kontakt", "Påmindelser før besøget: hvem skal have SMS, brev eller "
                                       "et opkald i dag. Markér opkald; en borger, der ikke "
                                       "kunne nås, vises på planlægningstavlen."))
        bar, self.day, self.summary = day_bar("Liste for:", self.today, self._step)
        lay.addLayout(bar)

        self.model = ContactModel(self)
        self.proxy = SortProxy(self.model, self)
        self.table = table_view(self.proxy)
        lay.addWidget(self.table, 1)

        actions = QHBoxLayout()
        self.note = QLineEdit()
        self.note.setPlaceholderText("Bemærkning til opkaldet (valgfri)")
        self.reached_button = QPushButton("Talt med")
        self.not_reached_button = QPushButton("Ikke nået")
        self.letter_button = QPushButton("Brev sendt")
        self.reset_button = QPushButton("Nulstil")
        for b, status in ((self.reached_button, "reached"),
                          (self.not_reached_button, "not_reached"),
                          (self.letter_button, "sent"), (self.reset_button, "todo")):
            b.clicked.connect(lambda _c=False, st=status: self.mark(st))
        actions.addWidget(self.note, 1)
        for b in (self.reached_button, self.not_reached_button, self.letter_button,
                  self.reset_button):
            actions.addWidget(b)
        lay.addLayout(actions)
        # the day's sending on a row of its own, so the view fits a small laptop screen
        sending = QHBoxLayout()
        self.sms_button = QPushButton("Send dagens SMS")
        self.dry_button = QPushButton("Prøvekørsel (CSV)…")
        self.letters_button = QPushButton("Påmindelsesbreve (PDF)…")
        self.letters_button.clicked.connect(lambda: self.reminder_letters())
        self.sms_button.clicked.connect(self.send_sms)
        self.dry_button.clicked.connect(lambda: self.dry_run())
        sending.addWidget(self.sms_button)
        sending.addWidget(self.dry_button)
        sending.addWidget(self.letters_button)
        sending.addStretch(1)
        lay.addLayout(sending)

        pref = QGroupBox("Borgerens samtykke og foretrukne kanal")
        form = QFormLayout(pref)
        self.pref_channel = QComboBox()
        for code, text in labels.PREFERENCE_CHANNEL.items():
            self.pref_channel.addItem(text, code)
        self.pref_consent = QCheckBox("Borgeren har givet samtykke til SMS")
        self.pref_mobile = QLineEdit()
        self.pref_mobile.setPlaceholderText("mobilnummer (ellers borgerens telefon)")
        self.pref_save = QPushButton("Gem samtykke")
        self.pref_save.clicked.connect(self.save_preference)
        row = QHBoxLayout()
        row.addWidget(self.pref_channel)
        row.addWidget(self.pref_consent)
        row.addWidget(self.pref_mobile, 1)
        row.addWidget(self.pref_save)
        form.addRow(row)
        lay.addWidget(pref)
        self.error = error_label()
        lay.addWidget(self.error)
        self.message = QLabel()
        self.message.setStyleSheet("color: #2e7d32;")
        lay.addWidget(self.message)

        self.day.dateChanged.connect(self.reload)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._selected())

    # --- loading ----------------------------------------------------------------------------

    def reload(self) -> None:
        day = self.current_day()
        contact = self.contact
        self._generation = getattr(self, "_generation", 0) + 1
        gen = self._generation
        Op(self, lambda: contact.day_list(day)).success(
            lambda cl: self._show_list(cl) if gen == self._generation else None).run_in_background()

    def _show_list(self, cl) -> None:
        keep = self.selected().visit_id if self.selected() else None
        self.listing = cl
        self.model.set_rows(cl.rows)
        self.table.resizeColumnsToContents()
        p = cl.policy
        policy = (f"Politik: {labels.reminder_channel_label(p.channel)}, {p.days_before} "
                  f"hverdag{'e' if p.days_before != 1 else ''} før"
                  + ("" if not p.remind_lettered else ", også besøg med brev"))
        if cl.closed:
            self.summary.setText(f"<span style='color:#666'>{cl.closed}: ingen påmindelser "
                                 f"(næste hverdags liste tager dem).</span> {policy}")
        else:
            todo = sum(1 for r in cl.rows if r.status == "todo")
            bad = sum(1 for r in cl.rows if r.status in ("failed", "not_reached"))
            self.summary.setText(
                f"Besøg {fmt.day_label(cl.first)} – {fmt.day_label(cl.last)}: "
                f"<b>{len(cl.rows)}</b> borgere, <b>{todo}</b> mangler"
                + (f", <span style='color:#c62828'><b>{bad}</b> ikke nået</span>" if bad else "")
                + f" &nbsp; <span style='color:#666'>{policy}</span>")
        row = next((i for i, r in enumerate(self.model.rows) if r.visit_id == keep), 0)
        if self.model.rows:
            self.table.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())
        self._selected()

    def selected(self):
        idx = self.table.currentIndex()
        return idx.data(ROW_ROLE) if idx.isValid() else None

    def select_visit(self, visit_id: int) -> None:
        for i, r in enumerate(self.model.rows):
            if r.visit_id == visit_id:
                self.table.selectRow(self.proxy.mapFromSource(self.model.index(i, 0)).row())

    def _selected(self) -> None:
        r = self.selected()
        for b in (self.reached_button, self.not_reached_button, self.letter_button,
                  self.reset_button, self.pref_save):
            b.setEnabled(r is not None)
        if r is None:
            return
        pref = r.preference
        self.pref_channel.setCurrentIndex(max(self.pref_channel.findData(
            pref.channel if pref else ""), 0))
        self.pref_consent.setChecked(bool(pref and pref.sms_consent))
        self.pref_mobile.setText(pref.mobile if pref else "")

    # --- actions ----------------------------------------------------------------------------

    def _done(self, text: str):
        def cb(_result=None):
            self.error.hide()
            self.message.setText(text)
            emit_changed("contact", "planning")
        return cb

    def _failed(self, exc) -> None:
        if isinstance(exc, ValidationError):
            self.error.setText("\n".join(str(e) for e in exc.errors))
            self.error.show()
        else:
            show_error(self, exc)

    def mark(self, status: str) -> None:
        r = self.selected()
        if r is None:
            return
        day, note, contact = self.current_day(), self.note.text().strip(), self.contact
        Op(self, lambda: contact.mark(r.visit_id, status, day, note)) \
            .success(self._done(f"{r.citizen_name}: {labels.reminder_status_label(status)}")) \
            .failure(self._failed).run_in_background()
        self.note.clear()

    def save_preference(self) -> None:
        r = self.selected()
        if r is None:
            return
        channel = self.pref_channel.currentData()
        consent = self.pref_consent.isChecked()
        mobile = self.pref_mobile.text().strip()
        day, contact = self.today, self.contact
        Op(self, lambda: contact.set_preference(r.request_id, channel, consent, mobile, day)) \
            .success(self._done(f"{r.citizen_name}: samtykke og kanal gemt")) \
            .failure(self._failed).run_in_background()

    def send_sms(self) -> None:
        day, contact = self.current_day(), self.contact

        def work(progress):
            queued = contact.queue_sms(day)
            progress.update(0, 0, f"{queued} nye beskeder i udbakken; sender …")
            return contact.send_sms()

        def done(summary):
            self._done(f"SMS: {summary.sent + summary.delivered} sendt, "
                       f"{summary.failed} fejlet")()
            if summary.errors:
                self.error.setText("\n".join(summary.errors))
                self.error.show()

        Op(self, work).with_progress("Sender SMS …").success(done) \
            .failure(self._failed).run_in_background()

    def dry_run(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Gem SMS'erne som CSV", f"sms-{self.current_day()}.csv", "CSV (*.csv)")
            if not path:
                return
        day, contact = self.current_day(), self.contact

        def work():
            contact.queue_sms(day)
            return contact.dry_run(path)

        Op(self, work).success(lambda n: self._done(f"{n} SMS skrevet til {path} (intet "
                                                    "sendt)")()) \
            .failure(self._failed).run_in_background()

    def reminder_letters(self, path: str | None = None) -> None:
        """The letter rows still to do as one PDF; they are marked sent once it is written."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Gem påmindelsesbrevene", f"paamindelser-{self.current_day()}.pdf",
                "PDF (*.pdf)")
            if not path:
                return
        day, contact = self.current_day(), self.contact
        Op(self, lambda: contact.reminder_letters(day, path)) \
            .success(lambda n: self._done(f"{n} breve gemt i {path}" if n else
                                          "Ingen påmindelser pr. brev")()) \
            .failure(self._failed).run_in_background()


NOT_REACHED_MARK = "☎✗ "


def flag_not_reached(board, visit_role) -> None:
    """Marks, on the planning board (``ui/views/planning.py``), the visits whose citizen could
    not be reached before the visit (a call not answered, an SMS that failed): a red mark in
    front of the stop and a line in its tooltip. ``visit_role``: the item data role holding
    the visit id (the board's, passed in so this module does not import the board). Fetched
    off the GUI thread; a board rebuilt meanwhile is left alone."""
    if not getattr(board, "days", None):
        return
    first, last = min(board.days), max(board.days)
    gen = getattr(board, "_generation", 0)
    contact = board.app.contact

    def apply(flags: dict) -> None:
        if getattr(board, "_generation", 0) != gen or not flags:
            return
        from PySide6.QtGui import QColor

        for card in board.cards.values():
            for i in range(card.stops.count()):
                item = card.stops.item(i)
                status = flags.get(item.data(visit_role))
                if status and not item.text().startswith(NOT_REACHED_MARK):
                    item.setText(NOT_REACHED_MARK + item.text())
                    item.setForeground(QColor("#c62828"))
                    item.setToolTip(item.toolTip() + "<br><b>Påmindelse: "
                                    f"{labels.reminder_status_label(status).lower()}</b>")

    Op(board, lambda: contact.not_reached(first, last)).success(apply).run_in_background()
