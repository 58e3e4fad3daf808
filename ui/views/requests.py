"""Henvisninger: the list with search and filters, a detail panel, and the actions."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from hjemmeprove.services.requests import ACTIVE_STATUSES, status_label
from ui import fmt
from ui.models.requests import COL_ADDRESS, RequestFilter, RequestTableModel
from ui.ops import Op
from ui.signals import emit_changed, hub
from ui.views.request_form import CancelDialog, HistoryDialog, RequestForm, uncancel
from ui.widgets import table_view, title

STATUSES = ["open", "planned", "locked", "done", "cancelled", "not_eligible"]
ACTIVE = "active"  # the status box's default: open, planned and locked together
STATUS_GROUPS = {ACTIVE: ACTIVE_STATUSES}


class RequestsView(QWidget):
    areas = {"requests"}

    def __init__(self, app, parent=None, today: dt.date | None = None):
        super().__init__(parent)
        self.app = app
        self.today = today
        self.form: RequestForm | None = None
        self.cancel_dialog: CancelDialog | None = None
        self.history_dialog: HistoryDialog | None = None
        self.detail = None
        self._select_after_load: int | None = None
        self.municipalities = []

        lay = QVBoxLayout(self)
        lay.addWidget(title("Henvisninger", "Kommunernes bestillinger af blodprøvetagning i "
                                             "eget hjem."))
        bar = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Søg navn, CPR, adresse, by, postnr. eller nr. (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(260)
        self.status = QComboBox()
        self.status.addItem("Aktive", ACTIVE)
        self.status.setItemData(0, "Åbne, planlagte og låste henvisninger",
                                Qt.ItemDataRole.ToolTipRole)
        self.status.addItem("Alle statusser", None)
        for s in STATUSES:
            self.status.addItem(status_label(s).capitalize(), s)
        self.status.setCurrentIndex(0)
        self.municipality = QComboBox()
        self.municipality.addItem("Alle kommuner", None)
        self.due = QCheckBox("Frist inden for")
        self.due_days = QSpinBox()
        self.due_days.setRange(0, 60)
        self.due_days.setValue(3)
        self.due_days.setSuffix(" dage")
        self.late = QCheckBox("Kun sene aflysninger")
        self.new_button = QPushButton("Ny henvisning")
        self.new_button.setToolTip("Ctrl+N")
        self.new_button.setDefault(False)
        # two rows, so the view fits a small laptop screen (1366×768 at 125 %): the search and
        # the new request above, the filters below
        bar.addWidget(self.search, 3)
        bar.addStretch(2)
        bar.addWidget(self.new_button)
        lay.addLayout(bar)
        filters = QHBoxLayout()
        for w in (self.status, self.municipality, self.due, self.due_days, self.late):
            filters.addWidget(w)
        filters.addStretch(1)
        lay.addLayout(filters)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.model = RequestTableModel(app.requests, today=today, parent=self)
        # a header click asks the service for the new order (model.sort → self._load), so
        # it holds for the rows not loaded yet; by deadline until then
        self.table = table_view(self.model, sorting=True)
        self.table.sortByColumn(self.model.sort_column(), self.model.sort_order())
        self.model.loader = self._load
        split.addWidget(self.table)
        # the selected request's panel scrolls when the window is low (a small laptop screen)
        detail = QScrollArea()
        detail.setWidgetResizable(True)
        detail.setFrameShape(QFrame.Shape.NoFrame)
        detail.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        detail.setWidget(self._detail_panel())
        detail.setMinimumWidth(detail.widget().minimumWidth()
                               + detail.verticalScrollBar().sizeHint().width())
        split.addWidget(detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.splitter = split
        lay.addWidget(split, 1)
        self.count_label = QLabel()
        self.count_label.setStyleSheet("color: #555;")
        lay.addWidget(self.count_label)

        self._timer = QTimer(self, singleShot=True, interval=250)
        self._timer.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda: self._timer.start())
        for sig in (self.status.currentIndexChanged, self.municipality.currentIndexChanged,
                    self.due.toggled, self.due_days.valueChanged, self.late.toggled):
            sig.connect(self.reload)
        self.new_button.clicked.connect(self.new_request)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.doubleClicked.connect(lambda _i: self.edit_request())
        hub().changed.connect(self._on_changed)
        self._loaded_once = False
        self._generation = 0

    def _detail_panel(self) -> QWidget:
        box = QGroupBox("Valgt henvisning")
        v = QVBoxLayout(box)
        form = QFormLayout()
        self.d_fields = {}
        for key, label in [("id", "Nr."), ("name", "Borger"), ("cpr", "CPR"),
                           ("address", "Adresse"), ("received", "Modtaget"),
                           ("deadline", "Frist"), ("status", "Status"), ("planned", "Planlagt"),
                           ("window", "Tidskrav"), ("access", "Adgang"), ("note", "Bemærkning"),
                           ("cancel", "Aflysning")]:
            lab = QLabel("")
            lab.setWordWrap(True)
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.d_fields[key] = lab
            form.addRow(label + ":", lab)
        v.addLayout(form)
        self.edit_button = QPushButton("Redigér…")
        self.cancel_button = QPushButton("Aflys…")
        self.not_eligible_button = QPushButton("Ikke omfattet…")
        self.history_button = QPushButton("Historik…")
        self.uncancel_button = QPushButton("Fortryd aflysning")
        self.uncancel_button.setToolTip("Så længe kommunen ikke har fået svar, besøget ikke er "
                                        "faktureret og besøgsdagen ikke er passeret")
        for b in (self.edit_button, self.cancel_button, self.uncancel_button,
                  self.not_eligible_button, self.history_button):
            b.setEnabled(False)
            v.addWidget(b)
        v.addStretch(1)
        self.edit_button.clicked.connect(self.edit_request)
        self.cancel_button.clicked.connect(self.cancel_request)
        self.not_eligible_button.clicked.connect(self.mark_not_eligible)
        self.history_button.clicked.connect(self.show_history)
        self.uncancel_button.clicked.connect(self.uncancel_request)
        box.setMinimumWidth(280)
        return box

    # --- loading ----------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._loaded_once:
            self._loaded_once = True
            self._load_municipalities()
            self.reload()

    def _on_changed(self, areas: set) -> None:
        if areas & self.areas and self._loaded_once:
            self.reload()

    def _load_municipalities(self) -> None:
        Op(self, self.app.admin.list_municipalities).success(self._set_municipalities) \
            .run_in_background()

    def _set_municipalities(self, rows) -> None:
        self.municipalities = rows
        current = self.municipality.currentData()
        self.municipality.blockSignals(True)
        self.municipality.clear()
        self.municipality.addItem("Alle kommuner", None)
        for m in rows:
            self.municipality.addItem(m.name, m.code)
        i = self.municipality.findData(current)
        self.municipality.setCurrentIndex(max(i, 0))
        self.municipality.blockSignals(False)

    def current_filter(self) -> RequestFilter:
        status = self.status.currentData()
        return self.model.ordered(RequestFilter(
            search=self.search.text().strip(), status=STATUS_GROUPS.get(status, status),
            municipality_code=self.municipality.currentData(),
            deadline_within_days=self.due_days.value() if self.due.isChecked() else None,
            late_cancellations=self.late.isChecked(), today=self.today))

    def reload(self) -> None:
        self._load(self.current_filter())

    def _load(self, flt: RequestFilter) -> None:
        """The count and first page off the GUI thread; only the newest load is shown."""
        self._generation += 1
        gen = self._generation
        Op(self, lambda: self.model.query(flt)).success(lambda res: self._apply(gen, res)) \
            .run_in_background()

    def _apply(self, gen: int, result) -> None:
        if gen != self._generation:
            return  # a newer search superseded this one
        keep = self._select_after_load or (self.detail.id if self.detail else None)
        self._select_after_load = None
        self.model.apply(*result)
        n = self.model.total
        self.count_label.setText(f"{n:,} henvisninger".replace(",", ".") if n != 1
                                 else "1 henvisning")
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(COL_ADDRESS, min(self.table.columnWidth(COL_ADDRESS), 260))
        if keep is not None:
            self.select_request(keep)

    def select_request(self, request_id: int) -> None:
        row = self.model.row_of_id(request_id)
        if row is None:
            self.show_detail_for(request_id)
            return
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)
        self.show_detail_for(request_id)

    def save_layout(self, s, key: str) -> None:
        s.setValue(f"{key}/splitter", self.splitter.saveState())

    def restore_layout(self, s, key: str) -> None:
        state = s.value(f"{key}/splitter")
        if state is not None:
            self.splitter.restoreState(state)

    # --- detail -----------------------------------------------------------------------------

    def _current_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        row = self.model.row_at(current.row())
        if self.detail is None or self.detail.id != row.id:
            self.show_detail_for(row.id)

    def show_detail_for(self, request_id: int) -> None:
        Op(self, lambda: self.app.requests.get(request_id)).success(self._show_detail) \
            .run_in_background()

    def _show_detail(self, d) -> None:
        self.detail = d
        f = self.d_fields
        f["id"].setText(str(d.id))
        f["name"].setText(d.name)
        f["cpr"].setText(d.cpr[:7] + "XXXX")
        addr = (f"{d.sampling_address}, {d.sampling_postcode} {d.sampling_city} (prøveadresse)"
                if d.sampling_address else f"{d.address}, {d.postcode} {d.city}")
        f["address"].setText(addr)
        f["received"].setText(fmt.date(d.received))
        flags = {"deadline_passed": "fristen var overskredet ved oprettelsen",
                 "duplicate": "bekræftet trods åben henvisning fra samme kommune",
                 "citizen_changed": "borgerens navn/adresse ændret ved oprettelsen"}
        marks = [flags[x] for x in (d.flags or "").split(",") if x in flags]
        f["deadline"].setText(f"<b>{fmt.date(d.deadline)}</b>"
                              + (f" <span style='color:#b71c1c'>({'; '.join(marks)})</span>"
                                 if marks else ""))
        if d.position_quality == "approximate":
            addr += " ≈ omtrentlig position (postnummer)"
            f["address"].setText(addr)
        f["status"].setText(status_label(d.status))
        row = self.model.row_of_id(d.id)
        planned = self.model.row_at(row).planned_date if row is not None else None
        f["planned"].setText(fmt.date(planned) or "—")
        window = ""
        if d.window_start or d.window_end:
            window = f"{fmt.clock(d.window_start) or '…'}–{fmt.clock(d.window_end) or '…'}"
        if d.preferred_days:
            window += (" · " if window else "") + f"ønsker {d.preferred_days}"
        f["window"].setText(window or "—")
        f["access"].setText(d.access_info or "—")
        f["note"].setText(d.note or d.not_eligible_reason or "—")
        if d.cancellations:
            at, by, channel, late = d.cancellations[-1]
            text = f"{fmt.datetime(at)}, {fmt.CHANNEL_DA.get(channel, channel).lower()}, {by}"
            if late:
                text = f'<span style="color:#c62828"><b>SEN AFLYSNING</b></span><br>{text}'
            f["cancel"].setText(text)
        else:
            f["cancel"].setText("—")
        active = d.status in ("open", "planned", "locked")
        self.edit_button.setEnabled(active)
        self.cancel_button.setEnabled(active)
        self.not_eligible_button.setEnabled(active)
        self.uncancel_button.setEnabled(d.status == "cancelled" and bool(d.cancellations))
        self.history_button.setEnabled(True)

    # --- actions ----------------------------------------------------------------------------

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _agreement_municipalities(self):
        return self.municipalities or self.app.admin.list_municipalities()

    def new_request(self) -> None:
        self.form = RequestForm(self.app, self._agreement_municipalities(), self,
                                today=self.today)
        self.form.saved.connect(self._after_save)
        self.form.open()

    def edit_request(self) -> None:
        if self.detail is None:
            return
        self.form = RequestForm(self.app, self._agreement_municipalities(), self,
                                request_id=self.detail.id, today=self.today)
        self.form.saved.connect(self._after_save)
        self.form.open()

    def _after_save(self, request_id: int) -> None:
        self._select_after_load = request_id
        self.detail = None
        self.window().statusBar().showMessage(f"Henvisning {request_id} gemt", 5000) \
            if hasattr(self.window(), "statusBar") else None

    def cancel_request(self) -> None:
        if self.detail is None:
            return
        self.cancel_dialog = CancelDialog(self.app, self.detail.id, self)
        self.cancel_dialog.done_result.connect(self._after_cancel)
        self.cancel_dialog.open()

    def _after_cancel(self, result) -> None:
        self._select_after_load = result.request_id
        text = ("Aflysningen er registreret som SEN (under 24 timer før tidsvinduet)."
                if result.late else "Aflysningen er registreret.")
        if hasattr(self.window(), "statusBar"):
            self.window().statusBar().showMessage(text, 8000)

    def uncancel_request(self) -> None:
        if self.detail is None:
            return
        rid = self.detail.id
        uncancel(self, self.app, rid, lambda _r, text: self._after_uncancel(rid, text),
                 today=self.today)

    def _after_uncancel(self, request_id: int, text: str) -> None:
        self._select_after_load = request_id
        self.detail = None
        if hasattr(self.window(), "statusBar"):
            self.window().statusBar().showMessage(text, 10000)

    def mark_not_eligible(self) -> None:
        if self.detail is None:
            return
        reason, ok = QInputDialog.getText(self, "Ikke omfattet af aftalen",
                                          "Begrundelse (fx akut prøve, kan selv komme til "
                                          "lægen):")
        if not ok:
            return
        rid = self.detail.id
        Op(self, lambda: self.app.requests.mark_not_eligible(rid, reason)) \
            .success(lambda _r: emit_changed("requests", "planning")).run_in_background()

    def show_history(self) -> None:
        if self.detail is None:
            return
        self.history_dialog = HistoryDialog(self.app, self.detail.id, self)
        self.history_dialog.open()
