"""The form to create or edit a request, and the cancellation and history dialogs.

Field problems come from the core (parse_request + the agreement check) and are shown at the
field they name, in red, with the whole form kept as typed.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from hjemmeprove.domain import labels
from hjemmeprove.domain.labels import CANCEL_CHANNELS
from hjemmeprove.domain.request_input import LABELS, parse_date
from hjemmeprove.errors import ConflictError, ValidationError
from hjemmeprove.services.history import changes_text
from hjemmeprove.services.requests import NeedsConfirmation, detail_to_form
from ui import fmt
from ui.errors import show_error
from ui.models.table import Column, RowTableModel
from ui.ops import Op
from ui.signals import emit_changed
from ui.widgets import (
    FIELD_ERROR_STYLE,
    ConfirmDiscard,
    SortProxy,
    confirm,
    error_label,
    table_view,
)

# key -> (label shown, placeholder)
FIELDS = {
    "cpr": ("CPR-nummer", "DDMMÅÅ-XXXX"),
    "name": ("Navn", ""),
    "address": ("Folkeregisteradresse", "Vej og nummer"),
    "postcode": ("Postnr.", "5700"),
    "city": ("By", ""),
    "phone": ("Telefon", ""),
    "municipality": ("Kommune", ""),
    "received": ("Modtaget", ""),
    "requester": ("Rekvirent", "Egen læge / hospitalsafdeling"),
    "ekg": ("EKG ønskes (§7)", ""),
    "preferred_days": ("Ønskede dage", "fx tir, tor eller 01.12.2026"),
    "earliest": ("Tidligst dato", fmt.DATE_PLACEHOLDER),
    "window_start": ("Tidligst kl.", "TT:MM"),
    "window_end": ("Senest kl.", "TT:MM (fastende: 10:00)"),
    "stability_minutes": ("Holdbarhed (min)", "tom = standard"),
    "sampling_address": ("Prøveadresse", "tom = folkeregisteradressen"),
    "sampling_postcode": ("Prøvepostnr.", ""),
    "sampling_city": ("Prøveby", ""),
    "access_info": ("Adgang", "Nøgleboks, kode, personale lukker ind"),
    "presence_required": ("Tilstedeværelse", "Personale/pårørende skal være til stede"),
    "identity_check": ("Identifikation", "ID-armbånd, personale bekræfter"),
    "note": ("Bemærkning", ""),
    "lat": ("Position, bredde", "fx 55.0598 (tom = ud fra adressen)"),
    "lon": ("Position, længde", "fx 10.6068"),
}
GROUPS = [
    ("Borger", ["cpr", "name", "address", "postcode", "city", "phone"]),
    ("Henvisning", ["municipality", "received", "requester", "ekg", "preferred_days",
                    "earliest", "window_start", "window_end", "stability_minutes"]),
    ("Prøveadresse og adgang", ["sampling_address", "sampling_postcode", "sampling_city",
                                "access_info", "presence_required", "identity_check", "note",
                                "lat", "lon"]),
]
_KEY_OF_LABEL = {v: k for k, v in LABELS.items()}


def _date_or_none(text: str) -> dt.date | None:
    try:
        return parse_date(text) if text else None
    except ValueError:
        return None


def _position_picker():
    """A small offline map of the region: double-click places the citizen exactly (the
    coordinator's own placement counts as an exact position)."""
    from ui.map.geo import KX, KY
    from ui.map.widget import MapRoute, MapStop, RouteMap

    class PositionPicker(RouteMap):
        picked = Signal(float, float)

        def __init__(self, parent=None):
            super().__init__(parent)
            self.setMinimumSize(260, 170)
            self.setToolTip("Dobbeltklik for at placere borgeren præcist; rul for at zoome")

        def show_position(self, lat: float | None, lon: float | None) -> None:
            if lat is None or lon is None:
                self.clear_routes()
                self.fit()
                return
            self.show_routes(None, [MapRoute("Borger", [MapStop(lat, lon, "●")])])
            self.zoom(4)

        def mouseDoubleClickEvent(self, event) -> None:
            p = self.mapToScene(event.position().toPoint())
            lat, lon = -p.y() / KY, p.x() / KX
            if 54.0 <= lat <= 58.0 and 8.0 <= lon <= 15.5:
                self.picked.emit(round(lat, 6), round(lon, 6))

    return PositionPicker()


class RequestForm(ConfirmDiscard, QDialog):
    """Create (request_id None) or edit a request. Emits ``saved(id)`` after a save; Escape or
    closing asks before a changed form is thrown away (``ask_discard``)."""

    saved = Signal(int)

    def __init__(self, app, municipalities, parent=None, request_id: int | None = None,
                 today: dt.date | None = None):
        super().__init__(parent)
        self.app = app
        self.request_id = request_id
        self.version: int | None = None
        self.today = today or dt.date.today()
        self.calendar = app.calendar()
        self.setWindowTitle("Ny henvisning" if request_id is None else
                            f"Henvisning {request_id}")
        self.edits: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}

        top = QVBoxLayout(self)
        self.summary = error_label()
        top.addWidget(self.summary)
        grid = QGridLayout()
        top.addLayout(grid)
        for col, (group_title, keys) in enumerate(GROUPS):
            box = QGroupBox(group_title)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for key in keys:
                label, placeholder = FIELDS[key]
                w = self._make_edit(key, placeholder, municipalities)
                self.edits[key] = w
                err = error_label()
                self.errors[key] = err
                holder = QWidget()
                v = QVBoxLayout(holder)
                v.setContentsMargins(0, 0, 0, 0)
                v.setSpacing(1)
                v.addWidget(w)
                v.addWidget(err)
                if key == "cpr":  # the stored citizen of a known CPR, shown as typed
                    self.known_label = QLabel()
                    self.known_label.setObjectName("known_citizen")
                    self.known_label.setWordWrap(True)
                    self.known_label.setStyleSheet("color: #0d47a1;")
                    self.known_label.hide()
                    v.addWidget(self.known_label)
                if key == "lon":
                    self.map = _position_picker()
                    self.map.picked.connect(self._placed)
                    v.addWidget(self.map)
                if key == "lat":
                    self.position_label = QLabel("Præcis position: fra henvisningen eller "
                                                 "placeret her. Tom: adresseregister, ellers "
                                                 "postnummerets midte (omtrentlig).")
                    self.position_label.setWordWrap(True)
                    self.position_label.setStyleSheet("color: #555;")
                    v.addWidget(self.position_label)
                if key == "received":
                    self.deadline_label = QLabel()
                    self.deadline_label.setObjectName("deadline")
                    self.deadline_label.setStyleSheet("color: #0d47a1;")
                    v.addWidget(self.deadline_label)
                form.addRow(label, holder)
            grid.addWidget(box, 0, col, Qt.AlignmentFlag.AlignTop)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText("Gem (Ctrl+S)")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Annullér")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        top.addWidget(self.buttons)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self.save)
        self.edits["received"].dateChanged.connect(self._update_deadline)
        self.edits["cpr"].editingFinished.connect(self.look_up_citizen)
        self._update_deadline()
        self.busy = False
        self.known = None  # services.requests.StoredCitizen of the CPR typed, if any
        self.setMinimumWidth(1080)
        if request_id is not None:
            self.load(request_id)  # marked pristine once loaded
        else:
            self.mark_pristine()

    def _make_edit(self, key, placeholder, municipalities) -> QWidget:
        if key == "municipality":
            combo = QComboBox()
            with_agreement = self._with_agreement()
            for m in municipalities:
                has = m.id in with_agreement if with_agreement is not None else True
                combo.addItem(f"{m.code} {m.name}" + ("" if has else " (ingen aftale)"),
                              m.code)
            # a new request starts at the first municipality that has an agreement today
            first = next((i for i, m in enumerate(municipalities)
                          if with_agreement is None or m.id in with_agreement), 0)
            combo.setCurrentIndex(first if municipalities else -1)
            return combo
        if key == "received":
            de = QDateEdit(QDate(self.today.year, self.today.month, self.today.day))
            de.setCalendarPopup(True)
            de.setDisplayFormat(fmt.QT_DATE)
            return de
        if key == "ekg":
            return QCheckBox()
        if key in ("note", "access_info"):
            te = QPlainTextEdit()
            te.setPlaceholderText(placeholder)
            te.setFixedHeight(54)
            te.setMinimumWidth(190)
            te.setTabChangesFocus(True)
            return te
        le = QLineEdit()
        le.setPlaceholderText(placeholder)
        le.setMinimumWidth(190)
        return le

    def _with_agreement(self) -> set[int] | None:
        """The ids of the municipalities with an agreement in force today (None: unknown)."""
        try:
            rows = self.app.admin.list_agreements()
        except Exception:  # noqa: BLE001 - a default is a convenience, never a failure
            return None
        return {a.municipality_id for a in rows
                if a.start <= self.today and (a.end is None or a.end >= self.today)}

    # --- values -----------------------------------------------------------------------------

    def values(self) -> dict[str, str]:
        out = {}
        for key, w in self.edits.items():
            if isinstance(w, QComboBox):
                out[key] = str(w.currentData() or "")
            elif isinstance(w, QDateEdit):
                out[key] = w.date().toPython().isoformat()
            elif isinstance(w, QCheckBox):
                out[key] = "ja" if w.isChecked() else "nej"
            elif isinstance(w, QPlainTextEdit):
                out[key] = w.toPlainText()
            else:
                out[key] = w.text()
        return out

    def set_values(self, values: dict[str, str]) -> None:
        for key, w in self.edits.items():
            text = values.get(key, "")
            if isinstance(w, QComboBox):
                i = w.findData(int(text)) if text.isdigit() else -1
                if i >= 0:
                    w.setCurrentIndex(i)
            elif isinstance(w, QDateEdit):
                day = _date_or_none(text)
                if day is not None:
                    w.setDate(QDate(day.year, day.month, day.day))
            elif isinstance(w, QCheckBox):
                w.setChecked(text == "ja")
            elif isinstance(w, QPlainTextEdit):
                w.setPlainText(text)
            elif key == "earliest" and _date_or_none(text) is not None:
                w.setText(fmt.date(_date_or_none(text)))  # shown as every date is shown
            else:
                w.setText(text)

    def _update_deadline(self) -> None:
        received = self.edits["received"].date().toPython()
        try:
            deadline = self.calendar.deadline(received)
        except Exception:  # noqa: BLE001 - a date outside the calendar's range
            self.deadline_label.setText("")
            return
        self.deadline_label.setText(f"Frist (10. hverdag): {fmt.date(deadline)}")
        self.deadline = deadline

    # --- a known CPR ------------------------------------------------------------------------

    def look_up_citizen(self) -> None:
        """Shows the stored citizen of the CPR typed and, on a new request, fills the empty
        citizen fields with the stored values; a different name or address is then a change
        the save asks about."""
        known = self.app.requests.stored_citizen(self.edits["cpr"].text())
        self.known = known
        if known is None:
            self.known_label.hide()
            return
        open_ = ", ".join(f"nr. {rid}" for rid, _code, _rec in known.open_requests)
        self.known_label.setText(
            f"Kendt borger: {known.name}, {known.address}, {known.postcode} {known.city}"
            + (f"; åbne henvisninger: {open_}" if open_ else ""))
        self.known_label.show()
        if self.request_id is None:
            for key in ("name", "address", "postcode", "city", "phone"):
                if not self.edits[key].text().strip():
                    self.edits[key].setText(getattr(known, key))
            if not self.edits["lat"].text().strip():
                self.map.show_position(known.lat, known.lon)  # where the stored citizen is

    def _placed(self, lat: float, lon: float) -> None:
        self.edits["lat"].setText(f"{lat:.6f}")
        self.edits["lon"].setText(f"{lon:.6f}")
        self.map.show_position(lat, lon)

    def ask(self, text: str) -> bool:
        """The explicit yes a change of a stored citizen, a second open request or a passed
        deadline needs (tests replace this)."""
        return confirm(self, "Bekræft", text, yes="Ja, gem", no="Nej, ret")

    # --- load/save --------------------------------------------------------------------------

    def load(self, request_id: int) -> None:
        Op(self, lambda: self.app.requests.get(request_id)).success(self._loaded) \
            .run_in_background()

    def _loaded(self, detail) -> None:
        self.version = detail.version
        self.set_values(detail_to_form(detail))
        self.map.show_position(detail.lat, detail.lon)
        self.mark_pristine()
        if detail.status in ("cancelled", "done"):
            self.summary.setText("Henvisningen er afsluttet og kan ikke ændres.")
            self.summary.show()
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)

    def clear_errors(self) -> None:
        self.summary.hide()
        for key, label in self.errors.items():
            label.hide()
            self.edits[key].setStyleSheet("")

    def show_errors(self, exc: ValidationError) -> None:
        self.clear_errors()
        unplaced = []
        for e in exc.errors:
            key = _KEY_OF_LABEL.get(e.field, e.field)
            if key in self.errors:
                label = self.errors[key]
                label.setText((label.text() + "\n" if label.isVisible() else "")
                              + e.message[:1].upper() + e.message[1:])
                label.show()
                self.edits[key].setStyleSheet(FIELD_ERROR_STYLE)
            else:
                unplaced.append(str(e))
        self.summary.setText("Ret de markerede felter." + (
            "\n" + "\n".join(unplaced) if unplaced else ""))
        self.summary.show()
        first = next((k for k in self.edits if self.errors[k].isVisible()), None)
        if first:
            self.edits[first].setFocus()

    def field_error(self, key: str) -> str:
        label = self.errors[key]
        return label.text() if not label.isHidden() else ""

    def save(self, confirm: frozenset = frozenset()) -> None:
        if self.busy:
            return
        self.clear_errors()
        values = self.values()
        rid, version, today = self.request_id, self.version, self.today
        requests = self.app.requests
        self.confirmed = frozenset(confirm)

        def work():
            if rid is None:
                return requests.create(values, today=today, confirm=set(confirm))
            requests.update(rid, version, values, today=today, confirm=set(confirm))
            return rid

        self.busy = True
        Op(self, work).success(self._saved).failure(self._failed) \
            .finally_(self._not_busy).run_in_background()

    def _not_busy(self) -> None:
        self.busy = False

    def _saved(self, request_id: int) -> None:
        self.request_id = request_id
        emit_changed("requests", "planning")
        self.saved.emit(request_id)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, NeedsConfirmation):
            text = "\n\n".join(e.message[:1].upper() + e.message[1:] for e in exc.errors)
            if self.ask(text + "\n\nGem alligevel?"):
                self.busy = False
                self.save(self.confirmed | exc.codes)
                return
            self.show_errors(exc)
        elif isinstance(exc, ValidationError):
            self.show_errors(exc)
        elif isinstance(exc, ConflictError):
            show_error(self, exc)
            if exc.fresh:
                self.load(self.request_id)
        else:
            show_error(self, exc)


class CancelDialog(ConfirmDiscard, QDialog):
    """§6: who cancelled, when and by which channel; the result says whether it was late.
    Escape asks before throwing away what was typed."""

    done_result = Signal(object)

    def __init__(self, app, request_id: int, parent=None, now: dt.datetime | None = None):
        super().__init__(parent)
        self.app = app
        self.request_id = request_id
        self.setWindowTitle(f"Aflys henvisning {request_id}")
        lay = QVBoxLayout(self)
        info = QLabel("Op til 24 timer før besøget: elektronisk. Mindre end 24 timer før: "
                      "telefonisk. En aflysning under 24 timer før det aftalte tidsvindue "
                      "markeres som <b>sen</b>.")
        info.setWordWrap(True)
        lay.addWidget(info)
        form = QFormLayout()
        self.by = QLineEdit()
        self.by.setPlaceholderText("Navn / hjemmesygeplejen")
        self.channel = QComboBox()
        for code in CANCEL_CHANNELS:
            self.channel.addItem(labels.channel_label(code), code)
        now = now or dt.datetime.now().replace(second=0, microsecond=0)
        self.at = QDateTimeEdit(QDateTime(QDate(now.year, now.month, now.day),
                                          QTime(now.hour, now.minute)))
        self.at.setDisplayFormat(fmt.QT_DATETIME)
        self.at.setCalendarPopup(True)
        self.note = QLineEdit()
        form.addRow("Aflyst af", self.by)
        form.addRow("Kanal", self.channel)
        form.addRow("Tidspunkt", self.at)
        form.addRow("Bemærkning", self.note)
        lay.addLayout(form)
        self.error = error_label()
        lay.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Registrér aflysning")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Annullér")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.mark_pristine()

    def submit(self) -> None:
        rid = self.request_id
        at = self.at.dateTime().toPython().replace(second=0, microsecond=0)
        by, channel, note = self.by.text(), self.channel.currentData(), self.note.text()
        app = self.app

        def work(_progress):
            # the visit leaves its route (measured again) and the day is re-planned; locked
            # visits keep their windows
            return app.planning.cancel_and_replan(rid, at, by, channel, note)

        Op(self, work).with_progress("Registrerer aflysningen og lægger dagens ruter om…") \
            .success(self._done).failure(self._failed).run_in_background()

    def _done(self, result) -> None:
        emit_changed("requests", "planning", "day_close")
        self.done_result.emit(result)
        self.accept()

    def _failed(self, exc) -> None:
        if isinstance(exc, ValidationError):
            self.error.setText("\n".join(str(e) for e in exc.errors))
            self.error.show()
        else:
            show_error(self, exc)


def uncancel(parent, app, request_id: int, on_done, today: dt.date | None = None) -> None:
    """"Fortryd aflysning": undoes the cancellation in the background and, when a late
    cancellation's visit came back in its window, re-plans that day so it is on a route
    again (locked visits keep their windows). ``on_done(result, text)`` gets the
    status bar's sentence; a refusal is shown with its reason."""

    def work(_progress):
        result = app.requests.uncancel(request_id, today=today)
        if result.visit_date is not None:
            app.planning.replan_after_change(result.visit_date)
        return result

    def done(result) -> None:
        emit_changed("requests", "planning", "day_close")
        on_done(result, uncancel_text(result))

    Op(parent, work).with_progress("Fortryder aflysningen…").success(done) \
        .failure(lambda exc: show_error(parent, exc)).run_in_background()


def uncancel_text(result) -> str:
    text = f"Aflysningen af henvisning {result.request_id} er fortrudt"
    if result.visit_date is not None:
        when = " ".join(filter(None, (fmt.date(result.visit_date),
                                      fmt.window(result.window_start, result.window_end))))
        return f"{text}; besøget {when} er lagt tilbage på ruten."
    return f"{text}; henvisningen er åben igen og planlægges ved næste planlægning."


def _changes(entry) -> str:
    """The entry's changes in the screen's words (RequestService.history gives them)."""
    return changes_text(entry.action, entry.changes)


HISTORY_COLUMNS = [
    Column("Tidspunkt", lambda e: fmt.datetime(e.at), sort=lambda e: e.at),
    Column("Bruger", lambda e: e.user),
    Column("Hvad", lambda e: e.what),
    Column("Ændringer", _changes, tooltip=_changes),
]


class HistoryDialog(QDialog):
    def __init__(self, app, request_id: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Historik for henvisning {request_id}")
        self.resize(900, 400)
        lay = QVBoxLayout(self)
        self.model = RowTableModel(HISTORY_COLUMNS)
        self.table = table_view(SortProxy(self.model, self))
        lay.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setText("Luk")
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        Op(self, lambda: app.requests.history(request_id)).success(self._loaded) \
            .run_in_background()

    def _loaded(self, entries) -> None:
        self.model.set_rows(entries)
        self.table.resizeColumnsToContents()
