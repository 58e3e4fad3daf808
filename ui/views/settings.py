"""Indstillinger: rates and wage indexes (with Bilag 2), agreements, municipalities, the
department, bioanalysts and absences, closing days, and the program's options."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from hjemmeprove.domain.labels import PERSONAL_DATA
from hjemmeprove.errors import HjemmeproveError, ValidationError
from hjemmeprove.services.admin import (
    AbsenceRow,
    AgreementRow,
    BioanalystRow,
    ClosingDayRow,
    DepartmentRow,
    MunicipalityRow,
)
from hjemmeprove.settings import OPTIONS
from ui import fmt
from ui.editdialog import EditDialog, F
from ui.errors import show_info
from ui.models.table import ROW_ROLE, Column, RowTableModel, sorted_proxy
from ui.ops import Op
from ui.signals import emit_changed, hub
from ui.widgets import Unavailable, service_or_none, table_view, title

OUTCOME_CHOICES = "taken, not_home, refused, cancelled_late"


def _yn(b: bool) -> str:
    return "ja" if b else "nej"


class _TablePage(QWidget):
    """A table of rows with Ny/Redigér buttons; subclasses say how to load and edit."""

    columns: list[Column] = []
    can_new = True

    def __init__(self, settings_view, parent=None):
        super().__init__(parent)
        self.sv = settings_view
        self.app = settings_view.app
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 6, 4, 4)
        self.model = RowTableModel(self.columns)
        self.proxy = sorted_proxy(self.model, self)
        self.table = table_view(self.proxy)
        self.buttons = QHBoxLayout()
        self.new_button = QPushButton("Ny…")
        self.edit_button = QPushButton("Redigér…")
        self.new_button.clicked.connect(lambda: self.edit(None))
        self.edit_button.clicked.connect(lambda: self.edit(self.current()))
        self.table.doubleClicked.connect(lambda _i: self.edit(self.current()))
        if self.can_new:
            self.buttons.addWidget(self.new_button)
        self.buttons.addWidget(self.edit_button)
        self.buttons.addStretch(1)
        lay.addWidget(self.table, 1)
        lay.addLayout(self.buttons)
        self.intro()
        self.dialog: EditDialog | None = None

    def intro(self) -> None:
        pass

    def current(self):
        idx = self.table.currentIndex()
        return idx.data(ROW_ROLE) if idx.isValid() else None

    def reload(self) -> None:
        Op(self, self.load).success(self._loaded).run_in_background()

    def _loaded(self, rows) -> None:
        self.model.set_rows(rows)
        self.table.resizeColumnsToContents()

    def load(self):
        raise NotImplementedError

    def edit(self, row) -> None:
        raise NotImplementedError

    def open_dialog(self, title_text, row, spec, save, intro="") -> EditDialog:
        self.dialog = EditDialog(self, title_text, row, spec, save, intro)
        self.dialog.saved.connect(lambda _r: (emit_changed("settings"), self.reload()))
        self.dialog.open()
        return self.dialog


class MunicipalitiesPage(_TablePage):
    columns = [
        Column("Kode", lambda m: str(m.code), sort=lambda m: m.code),
        Column("Kommune", lambda m: m.name),
        Column("EAN", lambda m: m.ean or "—", color=lambda m: None if m.ean else "#999"),
        Column("Adresse", lambda m: f"{m.address} {m.postcode} {m.city}".strip()),
        Column("Kontakt", lambda m: m.contact_name),
        Column("E-mail", lambda m: m.contact_email),
    ]
    SPEC = [F("code", "Kommunekode", "int"), F("name", "Navn"), F("ean", "EAN",
            help="13 cifre (GLN) til e-faktura"), F("address", "Adresse"),
            F("postcode", "Postnr"), F("city", "By"), F("contact_name", "Kontakt"),
            F("contact_email", "E-mail"), F("contact_phone", "Telefon")]

    def load(self):
        return self.app.admin.list_municipalities()

    def edit(self, row) -> None:
        row = row or MunicipalityRow(None, 0, "")
        self.open_dialog("Kommune", row, self.SPEC, self.app.admin.save_municipality)


class AgreementsPage(_TablePage):
    columns = [
        Column("Kommune", lambda a: a.municipality_name),
        Column("Reference", lambda a: a.reference),
        Column("Fra", lambda a: fmt.date(a.start), sort=lambda a: a.start.isoformat()),
        Column("Til", lambda a: fmt.date(a.end) or "løbende"),
        Column("Fakturerbare udfald", lambda a: a.billable_outcomes),
        Column("Fordeling", lambda a: "stand-alone" if a.allocation_rule == "standalone"
               else "lige store"),
        Column("EKG-pris", lambda a: fmt.kr(a.ekg_price) if a.ekg_price is not None else "—",
               right=True),
        Column("Moms %", lambda a: fmt.num(a.vat_percent, 0), right=True),
        Column("Faktura-EAN", lambda a: a.invoice_ean),
        Column("Svarvindue", lambda a: f"{a.reply_window_minutes} min", right=True),
    ]

    def spec(self):
        munis = [(m.id, f"{m.code} {m.name}") for m in self.app.admin.list_municipalities()]
        depts = [(d.id, d.name) for d in self.app.admin.list_departments()]
        return [
            F("municipality_id", "Kommune", "choice", choices=tuple(munis)),
            F("department_id", "Afdeling", "choice", choices=tuple(depts)),
            F("reference", "Reference"),
            F("start", "Startdato", "date"),
            F("end", "Slutdato", "date", optional=True,
              help="Opsigelse: 6 måneders varsel til den 1. i en måned (§13)"),
            F("billable_outcomes", "Fakturerbare udfald",
              help=f"Kommasepareret: {OUTCOME_CHOICES}. Standard: taken"),
            F("allocation_rule", "Fordeling", "choice",
              choices=(("standalone", "Stand-alone (lab→borger→lab)"),
                       ("equal", "Lige store andele"))),
            F("ferry_speed_kmh", "Færgehastighed", "decimal",
              help="1 færgeminut = v/60 km-ækvivalenter (standard 60 km/t)"),
            F("ekg_price", "EKG-pris", "decimal", optional=True, help="Tom = ingen EKG-aftale"),
            F("vat_percent", "Moms %", "decimal"),
            F("statement_personal_data", "Personoplysninger på opgørelsen", "choice",
              choices=tuple(PERSONAL_DATA.items())),
            F("statement_full_cpr", "Fuldt CPR på opgørelsen (når CPR vises)", "bool"),
            F("invoice_ean", "Faktura-EAN"),
            F("person_reference", "Personreference"),
            F("order_reference", "Ordrereference"),
            F("reply_window_minutes", "Svarvindue", "int", help="Minutter i svaret (§5)"),
        ]

    def load(self):
        return self.app.admin.list_agreements()

    def edit(self, row) -> None:
        if row is None:
            depts = self.app.admin.list_departments()
            munis = self.app.admin.list_municipalities()
            if not depts or not munis:
                return
            row = AgreementRow(None, munis[0].id, depts[0].id, dt.date.today().replace(day=1))
        self.open_dialog("Aftale og faktureringsindstillinger", row, self.spec(),
                         self.app.admin.save_agreement,
                         "Indstillingerne markeret (valg) i rammeaftalen gemmes pr. aftale og "
                         "trykkes på hver opgørelse.")


class DepartmentsPage(_TablePage):
    columns = [
        Column("Afdeling", lambda d: d.name), Column("Hospital", lambda d: d.hospital),
        Column("Laboratorium", lambda d: f"{d.lab_address}, {d.lab_postcode} {d.lab_city}"),
        Column("CVR", lambda d: d.cvr), Column("EAN", lambda d: d.ean),
        Column("Betalingsfrist", lambda d: f"{d.payment_days} dage", right=True),
    ]
    SPEC = [F("name", "Navn"), F("hospital", "Hospital"),
            F("lab_address", "Laboratoriets adresse"), F("lab_postcode", "Postnr"),
            F("lab_city", "By"), F("lab_lat", "Breddegrad", "float"),
            F("lab_lon", "Længdegrad", "float"), F("cvr", "CVR"), F("ean", "EAN"),
            F("bank_reg", "Reg.nr."), F("bank_account", "Kontonr."),
            F("contact_name", "Kontakt"), F("contact_email", "E-mail"),
            F("contact_phone", "Telefon"), F("payment_days", "Betalingsfrist", "int")]

    def load(self):
        return self.app.admin.list_departments()

    def edit(self, row) -> None:
        row = row or DepartmentRow(None, "", "", "", "", "", 55.0, 10.0)
        self.open_dialog("Afdeling", row, self.SPEC, self.app.admin.save_department)


class BioanalystsPage(_TablePage):
    columns = [
        Column("Navn", lambda b: b.name),
        Column("Arbejdstid", lambda b: f"{fmt.clock(b.day_start)}–{fmt.clock(b.day_end)}"),
        Column("Kompetencer", lambda b: b.skills or "—"),
        Column("Kapacitet", lambda b: f"{b.capacity} prøver", right=True),
        Column("Telefon", lambda b: b.phone),
        Column("Aktiv", lambda b: _yn(b.active)),
    ]
    SPEC = [F("name", "Navn"), F("day_start", "Arbejdstid start", "time"),
            F("day_end", "Arbejdstid slut", "time"),
            F("skills", "Kompetencer", help="Kommasepareret, fx ekg"),
            F("capacity", "Kapacitet", "int", help="Prøver køleboksen kan rumme"),
            F("phone", "Telefon"), F("active", "Aktiv", "bool")]
    ABSENCE_COLUMNS = [
        Column("Bioanalytiker", lambda a: a.bioanalyst_name),
        Column("Fra", lambda a: fmt.date(a.start), sort=lambda a: a.start.isoformat()),
        Column("Til", lambda a: fmt.date(a.end), sort=lambda a: a.end.isoformat()),
        Column("Årsag", lambda a: a.reason),
    ]

    def intro(self) -> None:
        self.absence_model = RowTableModel(self.ABSENCE_COLUMNS)
        self.absence_table = table_view(sorted_proxy(self.absence_model, self))
        box = QGroupBox("Fravær")
        v = QVBoxLayout(box)
        v.addWidget(self.absence_table)
        h = QHBoxLayout()
        add = QPushButton("Nyt fravær…")
        remove = QPushButton("Slet fravær")
        add.clicked.connect(self.new_absence)
        remove.clicked.connect(self.delete_absence)
        h.addWidget(add)
        h.addWidget(remove)
        h.addStretch(1)
        v.addLayout(h)
        self.layout().addWidget(box)
        self._absence_box = box

    def reload(self) -> None:
        super().reload()
        Op(self, self.app.admin.list_absences).success(self._absences).run_in_background()

    def _absences(self, rows) -> None:
        self.absence_model.set_rows(rows)
        self.absence_table.resizeColumnsToContents()

    def load(self):
        return self.app.admin.list_bioanalysts()

    def edit(self, row) -> None:
        if row is None:
            depts = self.app.admin.list_departments()
            if not depts:
                return
            row = BioanalystRow(None, "", depts[0].id)
        self.open_dialog("Bioanalytiker", row, self.SPEC, self.app.admin.save_bioanalyst)

    def new_absence(self) -> None:
        analysts = self.app.admin.list_bioanalysts()
        if not analysts:
            return
        current = self.current()
        today = dt.date.today()
        row = AbsenceRow(None, (current or analysts[0]).id, today, today)
        spec = [F("bioanalyst_id", "Bioanalytiker", "choice",
                  choices=tuple((b.id, b.name) for b in analysts)),
                F("start", "Fra", "date"), F("end", "Til", "date"), F("reason", "Årsag")]
        planning, _why = service_or_none(self.app, "planning")
        if planning is not None:  # records the absence and re-plans the days it covers
            def save(r):
                return planning.add_absence(r.bioanalyst_id, r.start, r.end, r.reason)
        else:
            save = self.app.admin.save_absence
        self.dialog = EditDialog(self, "Fravær", row, spec, save,
                                 "Ved nyt fravær lægges de berørte dages ruter om; låste besøg "
                                 "bliver i deres tidsvindue.")
        self.dialog.saved.connect(lambda _r: (emit_changed("settings", "planning"),
                                              self.reload()))
        self.dialog.open()

    def delete_absence(self) -> None:
        idx = self.absence_table.currentIndex()
        if not idx.isValid():
            return
        row = idx.data(ROW_ROLE)
        Op(self, lambda: self.app.admin.delete_absence(row.id)) \
            .success(lambda _r: (emit_changed("settings", "planning"), self.reload())) \
            .run_in_background()


class ClosingDaysPage(_TablePage):
    columns = [Column("Dato", lambda c: fmt.date(c.day), sort=lambda c: c.day.isoformat()),
               Column("Ugedag", lambda c: fmt.WEEKDAYS_DA[c.day.weekday()]),
               Column("Årsag", lambda c: c.reason)]

    def intro(self) -> None:
        self.edit_button.setText("Slet")
        self.edit_button.clicked.disconnect()
        self.edit_button.clicked.connect(self.delete)
        self.new_button.setText("Ny lukkedag…")
        text = QLabel("Helligdage lukker altid. Grundlovsdag, juleaftensdag og nytårsaftensdag "
                      "styres under <i>Program</i>. Her tilføjes afdelingens egne lukkedage "
                      "(fx personaledage); de tæller ikke som hverdage i fristen.")
        text.setWordWrap(True)
        self.layout().addWidget(text)

    def load(self):
        return self.app.admin.list_closing_days()

    def edit(self, row) -> None:
        row = ClosingDayRow(dt.date.today())
        self.open_dialog("Lukkedag", row, [F("day", "Dato", "date"), F("reason", "Årsag")],
                         self.app.admin.save_closing_day)

    def delete(self) -> None:
        row = self.current()
        if row is None:
            return
        Op(self, lambda: self.app.admin.delete_closing_day(row.day)) \
            .success(lambda _r: (emit_changed("settings", "requests"), self.reload())) \
            .run_in_background()


@dataclass(frozen=True)
class YearRates:
    year: int
    per_referral: str
    transport: str
    percent: str
    source: str
    example: bool


class RatesPage(QWidget):
    """P(Y), T(Y) per year from the wage indexes, the mileage rates, and Bilag 2's figures."""

    def __init__(self, settings_view, parent=None):
        super().__init__(parent)
        self.sv = settings_view
        self.app = settings_view.app
        self.rates, why = service_or_none(self.app, "rates")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 6, 4, 4)
        if self.rates is None:
            lay.addWidget(Unavailable("Takster", why))
            return
        from hjemmeprove.billing.rates import HELP_TEXT

        help_box = QGroupBox("Sådan er taksterne regnet (Bilag 2)")
        hv = QVBoxLayout(help_box)
        help_label = QLabel(HELP_TEXT)
        help_label.setWordWrap(True)
        hv.addWidget(help_label)
        lay.addWidget(help_box)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.year_model = RowTableModel([
            Column("År", lambda r: str(r.year), sort=lambda r: r.year),
            Column("Fast pris pr. henvisning", lambda r: r.per_referral, right=True),
            Column("Transporttid pr. km", lambda r: r.transport, right=True),
            Column("Fremskrivning", lambda r: r.percent, right=True,
                   color=lambda r: "#b26a00" if r.example else None),
            Column("Kilde", lambda r: r.source, tooltip=lambda r: r.source),
        ])
        self.year_table = table_view(sorted_proxy(self.year_model, self))
        self.mileage_model = RowTableModel([
            Column("Fra", lambda m: fmt.date(m.valid_from),
                   sort=lambda m: m.valid_from.isoformat()),
            Column("Kr. pr. km", lambda m: fmt.kr(m.amount), right=True),
            Column("Kilde", lambda m: m.source, tooltip=lambda m: m.source),
        ])
        self.mileage_table = table_view(sorted_proxy(self.mileage_model, self))
        left = QGroupBox("Takster pr. år")
        QVBoxLayout(left).addWidget(self.year_table)
        right = QGroupBox("Statens høje takst (kørsel)")
        QVBoxLayout(right).addWidget(self.mileage_table)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay.addWidget(split, 1)
        h = QHBoxLayout()
        for text, slot in (("Fremskrivningsprocent…", self.set_wage),
                           ("Meddelt takst…", self.set_announced),
                           ("Ny kilometertakst…", self.set_mileage)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            h.addWidget(b)
        h.addStretch(1)
        lay.addLayout(h)
        self.dialog = None

    def reload(self) -> None:
        if self.rates is None:
            return
        Op(self, self._compute).success(self._loaded).run_in_background()

    def _compute(self):
        table = self.rates.table()
        years = []
        last = max([dt.date.today().year + 1] + list(table.wages))
        for y in range(2020, last + 1):
            try:
                p, src, ex = table.year_rate(y, "per_referral")
                t, _s, _e = table.year_rate(y, "transport_time")
                ps, ts = fmt.kr(p), fmt.kr(t)
            except HjemmeproveError as exc:
                ps = ts = "mangler"
                src, ex = str(exc), False
            w = table.wages.get(y)
            pct = (f"{fmt.num(w.percent, 2)} %" + (" (eksempel)" if w.example else "")) \
                if w else ("grundlag" if y == 2020 else "—")
            years.append(YearRates(y, ps, ts, pct, src, bool(w and w.example) or ex))
        return years, self.rates.mileage_rates()

    def _loaded(self, result) -> None:
        years, mileage = result
        self.year_model.set_rows(years)
        self.mileage_model.set_rows(mileage)
        self.year_table.resizeColumnsToContents()
        self.mileage_table.resizeColumnsToContents()

    def _dialog(self, title_text, row, spec, save) -> EditDialog:
        self.dialog = EditDialog(self, title_text, row, spec, save)
        self.dialog.saved.connect(lambda _r: (emit_changed("rates", "billing"), self.reload()))
        self.dialog.open()
        return self.dialog

    def set_wage(self) -> None:
        row = _WageForm(dt.date.today().year + 1, None, "")
        self._dialog("Fremskrivningsprocent for løn", row,
                     [F("year", "År", "int"), F("percent", "Procent", "decimal"),
                      F("source", "Kilde", help="Hvor tallet er meddelt")],
                     lambda r: self.rates.set_wage_index(r.year, r.percent, r.source))

    def set_announced(self) -> None:
        row = _AnnouncedForm(dt.date.today().year, "per_referral", None, "")
        self._dialog("Officielt meddelt takst", row,
                     [F("year", "År", "int"),
                      F("kind", "Takst", "choice", choices=(
                          ("per_referral", "Fast pris pr. henvisning"),
                          ("transport_time", "Transporttid pr. km"))),
                      F("amount", "Beløb", "decimal"), F("source", "Kilde")],
                     lambda r: self.rates.set_announced(r.year, r.kind, r.amount, r.source))

    def set_mileage(self) -> None:
        row = _MileageForm(dt.date.today(), None, "")
        self._dialog("Statens høje takst", row,
                     [F("valid_from", "Fra", "date"), F("amount", "Beløb", "decimal"),
                      F("source", "Kilde")],
                     lambda r: self.rates.set_mileage(r.valid_from, r.amount, r.source))


@dataclass(frozen=True)
class _WageForm:
    year: int
    percent: Decimal | None
    source: str


@dataclass(frozen=True)
class _AnnouncedForm:
    year: int
    kind: str
    amount: Decimal | None
    source: str


@dataclass(frozen=True)
class _MileageForm:
    valid_from: dt.date
    amount: Decimal | None
    source: str


class OptionsPage(QScrollArea):
    """Every option in hjemmeprove.settings.OPTIONS with its Danish label."""

    CHOICES = {
        "distance.source": (("estimate", "Offline estimat (luftlinje × omvejsfaktor)"),
                            ("osrm", "Egen OSRM-server"), ("valhalla", "Egen Valhalla-server")),
        "billing.allocation_rule": (("standalone", "Stand-alone (lab→borger→lab)"),
                                    ("equal", "Lige store andele")),
    }

    def __init__(self, settings_view, parent=None):
        super().__init__(parent)
        self.app = settings_view.app
        self.setWidgetResizable(True)
        inner = QWidget()
        v = QVBoxLayout(inner)
        form = QFormLayout()
        self.edits: dict[str, QWidget] = {}
        for key, opt in OPTIONS.items():
            if key in self.CHOICES:
                w = QComboBox()
                for value, text in self.CHOICES[key]:
                    w.addItem(text, value)
            elif opt.kind is bool:
                w = QCheckBox()
            elif opt.kind is int:
                w = QSpinBox()
                w.setRange(0, 100000)
            elif opt.kind is float:
                w = QDoubleSpinBox()
                w.setRange(0, 100)
                w.setDecimals(2)
                w.setSingleStep(0.05)
            else:
                w = QLineEdit()
            w.setToolTip(key)
            self.edits[key] = w
            form.addRow(opt.label, w)
        v.addLayout(form)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b71c1c;")
        v.addWidget(self.error)
        h = QHBoxLayout()
        save = QPushButton("Gem indstillinger")
        save.clicked.connect(self.save)
        h.addWidget(save)
        h.addStretch(1)
        v.addLayout(h)
        v.addStretch(1)
        self.setWidget(inner)

    def reload(self) -> None:
        Op(self, self.app.settings.all).success(self._loaded).run_in_background()

    def _loaded(self, values: dict) -> None:
        for key, w in self.edits.items():
            value = values.get(key)
            if isinstance(w, QComboBox):
                i = w.findData(value)
                if i < 0:
                    w.addItem(str(value), value)
                    i = w.count() - 1
                w.setCurrentIndex(i)
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                w.setValue(value)
            else:
                w.setText(str(value))
        self._values = values

    def values(self) -> dict:
        out = {}
        for key, w in self.edits.items():
            if isinstance(w, QComboBox):
                out[key] = w.currentData()
            elif isinstance(w, QCheckBox):
                out[key] = w.isChecked()
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                out[key] = w.value()
            else:
                out[key] = w.text()
        return out

    def save(self) -> None:
        new = self.values()
        old = getattr(self, "_values", {})
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        settings = self.app.settings

        def work():
            for k, v in changed.items():
                settings.set(k, v)
            return len(changed)

        Op(self, work).success(self._saved).failure(self._failed).run_in_background()

    def _saved(self, n: int) -> None:
        self.error.setText("")
        emit_changed("settings", "requests", "planning")
        self.reload()
        show_info(self, "Indstillinger", f"{n} indstilling(er) gemt." if n else
                  "Ingen ændringer.")

    def _failed(self, exc) -> None:
        if isinstance(exc, ValidationError):
            self.error.setText("\n".join(str(e) for e in exc.errors))
        else:
            from ui.errors import show_error
            show_error(self, exc)


class SettingsView(QWidget):
    areas = {"settings", "rates"}

    def __init__(self, app, parent=None):
        super().__init__(parent)
        self.app = app
        lay = QVBoxLayout(self)
        lay.addWidget(title("Indstillinger", "Takster, aftaler, kommuner, afdeling, personale, "
                                             "lukkedage og programmets valg."))
        self.tabs = QTabWidget()
        self.pages = {
            "rates": RatesPage(self), "agreements": AgreementsPage(self),
            "municipalities": MunicipalitiesPage(self), "departments": DepartmentsPage(self),
            "bioanalysts": BioanalystsPage(self), "closing_days": ClosingDaysPage(self),
            "options": OptionsPage(self),
        }
        for key, label in (("rates", "Takster"), ("agreements", "Aftaler"),
                           ("municipalities", "Kommuner"), ("departments", "Afdeling"),
                           ("bioanalysts", "Bioanalytikere og fravær"),
                           ("closing_days", "Lukkedage"), ("options", "Program")):
            self.tabs.addTab(self.pages[key], label)
        lay.addWidget(self.tabs, 1)
        self._loaded = False
        hub().changed.connect(self._on_changed)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._loaded:
            self._loaded = True
            self.reload()

    def _on_changed(self, areas) -> None:
        if self._loaded and areas & {"rates"}:
            self.pages["rates"].reload()

    def reload(self) -> None:
        for page in self.pages.values():
            page.reload()
