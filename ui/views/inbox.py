"""Indbakke: the municipalities' MedCom messages in threads, read in the background while the
program is open; a message becomes a request (the form opens pre-filled) or a cancellation,
and a reply goes back in the thread. The work is IntakeService's (hjemmeprove/intake)."""

from __future__ import annotations

import datetime as dt
import html

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from hjemmeprove.domain import labels
from ui import fmt
from ui.errors import show_error
from ui.models.inbox import COL_CATEGORY, InboxTableModel
from ui.models.table import ROW_ROLE
from ui.ops import Op
from ui.signals import emit_changed
from ui.views.request_form import RequestForm
from ui.widgets import ServiceView, SortProxy, confirm, table_view, title

DEFAULT_POLL_SECONDS = 30


class InboxView(ServiceView):
    areas = {"intake", "requests"}

    def __init__(self, app, parent=None, today: dt.date | None = None, poll: bool = True):
        super().__init__(parent)
        self.app = app
        self.today = today
        self.detail = None
        self.proposal = None
        self.form: RequestForm | None = None
        self._polling = False
        self._generation = 0
        self.hint_boxes: list[tuple[QCheckBox, object]] = []
        # dialogs a test replaces: a yes/no question and a text to write
        self.confirm = lambda head, text: confirm(self, head, text)
        self.ask_text = self._ask_text

        lay = QVBoxLayout(self)
        lay.addWidget(title("Indbakke", "Korrespondancemeddelelser (MedCom) fra kommunernes "
                                        "systemer. Indbakken læses automatisk, mens "
                                        "programmet er åbent."))
        bar = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Søg borger, CPR eller emne")
        self.search.setClearButtonEnabled(True)
        self.unread_only = QCheckBox("Kun ulæste")
        self.poll_button = QPushButton("Læs indbakken nu")
        self.poll_label = QLabel("")
        self.poll_label.setStyleSheet("color: #555;")
        for w in (self.search, self.unread_only, self.poll_button, self.poll_label):
            bar.addWidget(w)
        bar.addStretch(1)
        lay.addLayout(bar)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.model = InboxTableModel(self)
        self.proxy = SortProxy(self.model, self)
        self.table = table_view(self.proxy)
        split.addWidget(self.table)
        split.addWidget(self._detail_panel())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([540, 520])
        lay.addWidget(split, 1)
        self.count_label = QLabel()
        self.count_label.setStyleSheet("color: #555;")
        lay.addWidget(self.count_label)

        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda: self._search_timer.start())
        self.unread_only.toggled.connect(self.reload)
        self.poll_button.clicked.connect(self.poll_now)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.poll_timer = QTimer(self)
        self.poll_timer.timeout.connect(self.poll_now)
        if poll:
            Op(self, lambda: app.settings.get("intake.poll_seconds")) \
                .success(self._start_polling).run_in_background()

    def _detail_panel(self) -> QWidget:
        box = QGroupBox("Valgt tråd")
        v = QVBoxLayout(box)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        v.addWidget(self.browser, 1)
        self.hints_box = QGroupBox("Forslag fra teksten (kun de markerede bruges)")
        self.hints_layout = QVBoxLayout(self.hints_box)
        self.hints_box.hide()
        v.addWidget(self.hints_box)
        row = QHBoxLayout()
        self.create_button = QPushButton("Opret henvisning…")
        self.cancel_button = QPushButton("Registrér aflysning…")
        self.reply_button = QPushButton("Svar kommunen…")
        for b in (self.create_button, self.cancel_button, self.reply_button):
            b.setEnabled(False)
            row.addWidget(b)
        v.addLayout(row)
        self.create_button.clicked.connect(self.create_request)
        self.cancel_button.clicked.connect(self.register_cancellation)
        self.reply_button.clicked.connect(self.reply)
        box.setMinimumWidth(470)
        return box

    # --- polling ------------------------------------------------------------------------

    def _start_polling(self, seconds) -> None:
        self.poll_timer.start(max(5, int(seconds or DEFAULT_POLL_SECONDS)) * 1000)
        self.poll_now()

    def poll_now(self) -> None:
        """Reads the inbox in the background (never two reads at once)."""
        if self._polling:
            return
        self._polling = True
        intake = self.app.intake

        def work():
            try:
                intake.folders()
            except Exception:  # noqa: BLE001 - folders not set: nothing to read yet
                return None
            return intake.run()

        Op(self, work).success(self._polled).failure(self._poll_failed) \
            .finally_(self._poll_done).run_in_background()

    def _poll_done(self) -> None:
        self._polling = False

    def _polled(self, summary) -> None:
        now = dt.datetime.now().strftime("%H:%M:%S")
        if summary is None:
            self.poll_label.setText("Indbakkens mapper er ikke sat (Indstillinger).")
            return
        text = f"Læst {now}"
        if summary.ok:
            text += f": {summary.ok} nye beskeder"
        if summary.rejected:
            text += f", {summary.rejected} afvist (se loggen)"
        self.poll_label.setText(text)
        if summary.read or summary.csv_imported:
            emit_changed("intake", *(["requests", "planning"] if summary.csv_imported else []))

    def _poll_failed(self, exc: BaseException) -> None:
        self.poll_label.setText(f"Indbakken kunne ikke læses: {exc}")

    # --- list -----------------------------------------------------------------------------

    def reload(self) -> None:
        self._generation += 1
        gen = self._generation
        unread, search = self.unread_only.isChecked(), self.search.text()
        Op(self, lambda: self.app.intake.threads(unread_only=unread, search=search)) \
            .success(lambda rows: self._apply(gen, rows)).run_in_background()

    def _apply(self, gen: int, rows) -> None:
        if gen != self._generation:
            return
        keep = self.detail.row.id if self.detail else None
        self.model.set_rows(rows)
        self._count()
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(COL_CATEGORY, min(self.table.columnWidth(COL_CATEGORY), 160))
        if keep is not None:
            self.select_thread(keep, load=False)

    def _count(self) -> None:
        rows = self.model.rows
        self.count_label.setText(f"{len(rows)} tråde, {sum(r.unread for r in rows)} ulæste")

    def select_thread(self, thread_id: int, load: bool = True) -> None:
        row = self.model.row_of_id(thread_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        if load:
            self.show_thread(thread_id)

    def _current_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        row = self.proxy.data(current, ROW_ROLE)
        if self.detail is None or self.detail.row.id != row.id:
            self.show_thread(row.id)

    # --- one thread -----------------------------------------------------------------------

    def show_thread(self, thread_id: int) -> None:
        intake = self.app.intake

        def work():
            detail = intake.thread(thread_id)
            if detail.row.unread:
                intake.mark_read(thread_id)
            message = _message_to_handle(detail)
            proposal = intake.propose(message.id) if message is not None else None
            return detail, proposal

        Op(self, work).success(self._show).run_in_background()

    def _show(self, result) -> None:
        detail, proposal = result
        was_unread = detail.row.unread
        self.detail, self.proposal = detail, proposal
        self.browser.setHtml(render_thread(detail))
        for box, _h in self.hint_boxes:
            box.setParent(None)
        self.hint_boxes = []
        hints = [h for h in (proposal.hints if proposal else ())
                 if h.field not in ("cancel", "fasting")]  # not form fields
        for h in hints:
            box = QCheckBox(f"{h.label}: {h.value}   («{h.source}»)")
            self.hints_layout.addWidget(box)
            self.hint_boxes.append((box, h))
        self.hints_box.setVisible(bool(hints))
        can_create = proposal is not None and proposal.existing_request_id is None
        self.create_button.setEnabled(can_create)
        self.cancel_button.setEnabled(proposal is not None and proposal.cancellation is not None)
        self.reply_button.setEnabled(any(m.direction == "in" for m in detail.messages))
        if was_unread:
            row = self.model.row_of_id(detail.row.id)
            if row is not None:
                from dataclasses import replace

                self.model.rows[row] = replace(self.model.rows[row], unread=False)
                top, bottom = self.model.index(row, 0), self.model.index(
                    row, self.model.columnCount() - 1)
                self.model.dataChanged.emit(top, bottom)
                self._count()

    # --- actions ----------------------------------------------------------------------------

    def accepted_hints(self) -> list:
        return [h for box, h in self.hint_boxes if box.isChecked()]

    def create_request(self) -> None:
        """Opens the request form pre-filled from the message (and the accepted hints); the
        saved request is linked to the message."""
        if self.proposal is None:
            return
        from hjemmeprove.intake.hints import apply_hints

        proposal = self.proposal
        values = apply_hints(proposal.values, self.accepted_hints())
        municipalities = self.app.admin.list_municipalities()
        self.form = RequestForm(self.app, municipalities, self, today=self.today)
        self.form.set_values(values)
        self.form.mark_pristine()  # the message's proposal: closing it loses nothing typed
        self.form.setWindowTitle("Ny henvisning fra elektronisk besked")
        message_id = proposal.message_id
        self.form.saved.connect(lambda rid: self._link(message_id, rid))
        self.form.open()

    def _link(self, message_id: int, request_id: int) -> None:
        Op(self, lambda: self.app.intake.link_request(message_id, request_id)) \
            .success(lambda _r: self._done(f"Henvisning {request_id} oprettet fra beskeden")) \
            .run_in_background()

    def register_cancellation(self) -> None:
        if self.proposal is None or self.proposal.cancellation is None:
            return
        c = self.proposal.cancellation
        if not self.confirm("Aflysning", f"Registrér aflysning af henvisning {c.request_id}, "
                                         f"{fmt.datetime(c.at)}, "
                                         f"{labels.channel_label(c.channel).lower()}, "
                                         f"af {c.by}?"):
            return
        message_id = self.proposal.message_id
        Op(self, lambda: self.app.intake.cancel_from_message(message_id, c.request_id)) \
            .success(self._cancelled).failure(lambda e: show_error(self, e)) \
            .run_in_background()

    def _cancelled(self, result) -> None:
        text = (f"Henvisning {result.request_id} aflyst"
                + (" – SEN aflysning (under 24 timer før tidsvinduet)" if result.late else ""))
        self._done(text, "requests", "planning")

    def reply(self) -> None:
        if self.detail is None:
            return
        thread_id = self.detail.row.id
        request_id = self.detail.row.request_id
        default = ""
        if request_id is not None:
            try:
                default = self.app.intake.reply_text(request_id)
            except Exception:  # noqa: BLE001 - not planned yet: the coordinator writes
                default = ""
        text = self.ask_text("Svar kommunen", "Svar (sendes som korrespondancemeddelelse i "
                                              "tråden):", default)
        if not text:
            return
        Op(self, lambda: self.app.intake.reply_in_thread(thread_id, text,
                                                         request_id=request_id)) \
            .success(lambda path: self._done(f"Svar skrevet til {path.name}")) \
            .failure(lambda e: show_error(self, e)).run_in_background()

    def _ask_text(self, head: str, label: str, default: str) -> str:
        text, ok = QInputDialog.getMultiLineText(self, head, label, default)
        return text.strip() if ok else ""

    def _done(self, text: str, *areas: str) -> None:
        if hasattr(self.window(), "statusBar"):
            self.window().statusBar().showMessage(text, 8000)
        if self.detail is not None:
            self.show_thread(self.detail.row.id)
        emit_changed("intake", *areas)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()


def _message_to_handle(detail):
    """The thread's newest received message not yet handled (or the newest received)."""
    received = [m for m in detail.messages if m.direction == "in"]
    open_ = [m for m in received if not m.handled]
    return (open_ or received or [None])[-1]


def render_thread(detail) -> str:
    """The thread as HTML: who and what, then every segment in time order with its
    signature (author, role, organisation, phone); our own replies shaded."""
    r = detail.row
    e = html.escape
    parts = [f"<h3>{e(r.patient_name)} <span style='color:#555'>{e(r.patient)}</span></h3>",
             f"<p><b>{e(r.category)}</b>{' – ' + e(r.topic) if r.topic else ''}<br>"
             f"{e(r.municipality)}</p><ul>"]
    for m in detail.messages:
        way = "Sendt" if m.direction == "out" else "Modtaget"
        extra = []
        if m.priority:
            extra.append(f"<b style='color:#c62828'>{e(m.priority)}</b>")
        if m.other_ids:
            extra.append("erstatnings-CPR: " + e(", ".join(
                x.rsplit("|", 1)[-1] for x in m.other_ids.split(", "))))
        if m.episode_of_care:
            extra.append(f"forløb {e(m.episode_of_care)}")
        if m.handled:
            extra.append(f"blev til {e(labels.handled_label(m.handled).lower())} "
                         f"{m.request_id}")
        parts.append(f"<li>{e(m.activity)} · {way} {fmt.datetime(m.sent_at)} · fra "
                     f"{e(m.sender)} til {e(m.receiver)}"
                     + (" · " + " · ".join(extra) if extra else "") + "</li>")
    parts.append("</ul><hr>")
    for g in detail.segments:
        shade = "background:#eef5ee;" if g.direction == "out" else ""
        who = " · ".join(e(x) for x in (g.author, g.author_role, g.organisation,
                                         g.author_phone) if x)
        parts.append(f"<div style='{shade}margin:6px 0;padding:4px'>"
                     f"<div style='color:#555'>{fmt.datetime(g.at)} · {who}</div>")
        if g.kind == "text":
            parts.append(f"<div>{e(g.text).replace(chr(10), '<br>')}</div>")
        else:
            link = f" <a href='{e(g.url)}'>{e(g.url)}</a>" if g.url else ""
            parts.append(f"<div>📎 {e(g.title)} ({e(g.content_type)}){link}</div>")
        parts.append("</div>")
    return "".join(parts)
