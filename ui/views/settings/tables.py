"""Indstillinger, the pages that are tables of rows (Ny…/Redigér… opens an EditDialog):
municipalities, agreements with their billing settings, the department, bioanalysts with
their absences, and the department's closing days."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from hjemmeprove.domain import labels
from hjemmeprove.services.admin import (
    AbsenceRow,
    AgreementRow,
    BioanalystRow,
    ClosingDayRow,
    DepartmentRow,
    MunicipalityRow,
)
from ui import fmt
from ui.editdialog import EditDialog, F
from ui.models.table import ROW_ROLE, Column, RowTableModel
from ui.ops import Op
from ui.signals import emit_changed
from ui.widgets import SortProxy, table_view

def _outcomes_text(codes: str) -> str:
    """An agreement's outcome codes as labels: "taken,not_home" -> "Taget, Ikke hjemme"."""
    return ", ".join(labels.outcome_label(c.strip()) for c in codes.split(",") if c.strip())


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
        self.proxy = SortProxy(self.model, self)
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
        Column("Fra", lambda a: fmt.date(a.start), sort=lambda a: a.start),
        Column("Til", lambda a: fmt.date(a.end) or "løbende",
               sort=lambda a: a.end or dt.date.max),
        Column("Fakturerbare udfald", lambda a: _outcomes_text(a.billable_outcomes)),
        Column("Fordeling", lambda a: labels.allocation_rule_label(a.allocation_rule)),
        Column("EKG-pris", lambda a: fmt.kr(a.ekg_price) if a.ekg_price is not None else "—",
               sort=lambda a: a.ekg_price, right=True),
        Column("Moms %", lambda a: fmt.num(a.vat_percent, 0), sort=lambda a: a.vat_percent,
               right=True),
        Column("Faktura-EAN", lambda a: a.invoice_ean),
        Column("Svarvindue", lambda a: f"{a.reply_window_minutes} min",
               sort=lambda a: a.reply_window_minutes, right=True),
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
            F("billable_outcomes", "Fakturerbare udfald", "multi",
              choices=tuple(labels.OUTCOME.items()),
              help="De udfald, der faktureres som en henvisning. Standard: Taget"),
            F("allocation_rule", "Fordeling", "choice",
              choices=tuple(labels.ALLOCATION_RULE.items())),
            F("ferry_speed_kmh", "Færgehastighed", "decimal",
              help="1 færgeminut = v/60 km-ækvivalenter (standard 60 km/t)"),
            F("ekg_price", "EKG-pris", "decimal", optional=True, help="Tom = ingen EKG-aftale"),
            F("vat_percent", "Moms %", "decimal"),
            F("statement_personal_data", "Personoplysninger på opgørelsen", "choice",
              choices=tuple(labels.PERSONAL_DATA.items())),
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
        Column("Betalingsfrist", lambda d: f"{d.payment_days} dage",
               sort=lambda d: d.payment_days, right=True),
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
        Column("Arbejdstid", lambda b: f"{fmt.clock(b.day_start)}–{fmt.clock(b.day_end)}",
               sort=lambda b: (b.day_start, b.day_end)),
        Column("Kompetencer", lambda b: b.skills or "—"),
        Column("Kapacitet", lambda b: f"{b.capacity} prøver", sort=lambda b: b.capacity,
               right=True),
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
        Column("Fra", lambda a: fmt.date(a.start), sort=lambda a: a.start),
        Column("Til", lambda a: fmt.date(a.end), sort=lambda a: a.end),
        Column("Årsag", lambda a: a.reason),
    ]

    def intro(self) -> None:
        self.absence_model = RowTableModel(self.ABSENCE_COLUMNS)
        self.absence_table = table_view(SortProxy(self.absence_model, self))
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
        planning = self.app.planning

        def save(r):  # records the absence and re-plans the days it covers
            return planning.add_absence(r.bioanalyst_id, r.start, r.end, r.reason)

        self.dialog = EditDialog(self, "Fravær", row, spec, save,
                                 "Ved nyt fravær lægges de berørte dages ruter om; låste "
                                 "besøg bliver i deres tidsvindue.")
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
    columns = [Column("Dato", lambda c: fmt.date(c.day), sort=lambda c: c.day),
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
