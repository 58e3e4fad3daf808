"""Indstillinger: one tab per page, the pages in three kinds, a module each:

- ``tables.py``: tables of rows edited in a dialog (municipalities, agreements, the
  department, bioanalysts and absences, closing days);
- ``rates.py``: the rates per year and the mileage rates, with Bilag 2's figures;
- ``options.py``: the form over the program's options (``hjemmeprove/settings.py``).
"""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from ui.signals import hub
from ui.views.settings.options import OptionsPage
from ui.views.settings.rates import RatesPage
from ui.views.settings.tables import (
    AgreementsPage,
    BioanalystsPage,
    ClosingDaysPage,
    DepartmentsPage,
    MunicipalitiesPage,
)
from ui.widgets import title

__all__ = ["AgreementsPage", "BioanalystsPage", "ClosingDaysPage", "DepartmentsPage",
           "MunicipalitiesPage", "OptionsPage", "RatesPage", "SettingsView"]


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
