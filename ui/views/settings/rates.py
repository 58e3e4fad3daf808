"""Indstillinger, the rates page: P(Y) and T(Y) per year from the wage indexes or announced
rates, the state's mileage rates, and where Bilag 2's figures come from (docs/domain.md,
"The fee model")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from hjemmeprove.billing.rates import HELP_TEXT, wage_index_concerns
from hjemmeprove.errors import HjemmeproveError
from ui import fmt
from ui.editdialog import EditDialog, F
from ui.models.table import Column, RowTableModel
from ui.ops import Op
from ui.signals import emit_changed
from ui.widgets import SortProxy, table_view


@dataclass(frozen=True)
class YearRates:
    year: int
    per_referral: str
    transport: str
    percent: str
    source: str
    example: bool
    # the values behind the text, for sorting (None: missing)
    per_referral_value: Decimal | None = None
    transport_value: Decimal | None = None
    percent_value: Decimal | None = None


class RatesPage(QWidget):
    """P(Y), T(Y) per year from the wage indexes, the mileage rates, and Bilag 2's figures."""

    def __init__(self, settings_view, parent=None):
        super().__init__(parent)
        self.sv = settings_view
        self.app = settings_view.app
        self.rates = self.app.rates
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 6, 4, 4)
        help_box = QGroupBox("Sådan er taksterne regnet (Bilag 2)")
        hv = QVBoxLayout(help_box)
        help_label = QLabel(HELP_TEXT)
        help_label.setWordWrap(True)
        hv.addWidget(help_label)
        lay.addWidget(help_box)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.year_model = RowTableModel([
            Column("År", lambda r: str(r.year), sort=lambda r: r.year),
            Column("Fast pris pr. henvisning", lambda r: r.per_referral,
                   sort=lambda r: r.per_referral_value, right=True),
            Column("Transporttid pr. km", lambda r: r.transport,
                   sort=lambda r: r.transport_value, right=True),
            Column("Fremskrivning", lambda r: r.percent, sort=lambda r: r.percent_value,
                   right=True,
                   color=lambda r: "#b26a00" if r.example else None),
            Column("Kilde", lambda r: r.source, tooltip=lambda r: r.source),
        ])
        self.year_table = table_view(SortProxy(self.year_model, self))
        self.mileage_model = RowTableModel([
            Column("Fra", lambda m: fmt.date(m.valid_from),
                   sort=lambda m: m.valid_from),
            Column("Kr. pr. km", lambda m: fmt.kr(m.amount), sort=lambda m: m.amount,
                   right=True),
            Column("Kilde", lambda m: m.source, tooltip=lambda m: m.source),
        ])
        self.mileage_table = table_view(SortProxy(self.mileage_model, self))
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
                p = t = None
                ps = ts = "mangler"
                src, ex = str(exc), False
            w = table.wages.get(y)
            pct = (f"{fmt.num(w.percent, 2)} %" + (" (eksempel)" if w.example else "")) \
                if w else ("grundlag" if y == 2020 else "—")
            years.append(YearRates(y, ps, ts, pct, src, bool(w and w.example) or ex,
                                   p, t, w.percent if w else None))
        return years, self.rates.mileage_rates()

    def _loaded(self, result) -> None:
        years, mileage = result
        self.year_model.set_rows(years)
        self.mileage_model.set_rows(mileage)
        self.year_table.resizeColumnsToContents()
        self.mileage_table.resizeColumnsToContents()

    def _dialog(self, title_text, row, spec, save, questions=None) -> EditDialog:
        self.dialog = EditDialog(self, title_text, row, spec, save, questions=questions)
        self.dialog.saved.connect(lambda _r: (emit_changed("rates", "billing"), self.reload()))
        self.dialog.open()
        return self.dialog

    def set_wage(self) -> None:
        row = _WageForm(dt.date.today().year + 1, None, "")
        self._dialog("Fremskrivningsprocent for løn", row,
                     [F("year", "År", "int"), F("percent", "Procent", "decimal"),
                      F("source", "Kilde", help="Hvor tallet er meddelt")],
                     lambda r: self.rates.set_wage_index(r.year, r.percent, r.source),
                     questions=lambda r: wage_index_concerns(r.percent, r.source))

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
