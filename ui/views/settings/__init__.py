"""Indstillinger: one tab per page, the pages in three kinds, a module each:

- ``tables.py``: tables of rows edited in a dialog (municipalities, agreements, the
  department, bioanalysts and absences, closing days);
- ``rates.py``: the rates per year and the mileage rates, with Bilag 2's figures;
- ``options.py``: the form over the program's options (``hjemmeprove/settings.py``).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.errors import show_error, show_info
from ui.ops import Op
from ui.signals import emit_changed, hub
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
        # the department's set-up as a file (hjemmeprove/services/setup_file.py)
        files = QHBoxLayout()
        files.addStretch(1)
        self.export_button = QPushButton("Eksportér opsætning…")
        self.export_button.setToolTip("Afdeling, kommuner, aftaler, bioanalytikere, lukkedage "
                                      "og planlægningens valg som en TOML-fil")
        self.import_button = QPushButton("Importér opsætning…")
        self.import_button.setToolTip("Læs en opsætningsfil ind: alt eller intet; rækker, "
                                      "filen ikke nævner, bliver stående")
        self.export_button.clicked.connect(lambda: self.export_setup())
        self.import_button.clicked.connect(lambda: self.import_setup())
        files.addWidget(self.export_button)
        files.addWidget(self.import_button)
        lay.addLayout(files)
        # file choosers (tests replace them: a modal dialog would block an offscreen run)
        self.choose_export_file = lambda: QFileDialog.getSaveFileName(
            self, "Eksportér opsætning", "opsaetning.toml", "TOML (*.toml)")[0]
        self.choose_import_file = lambda: QFileDialog.getOpenFileName(
            self, "Importér opsætning", "", "TOML (*.toml)")[0]
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

    def export_setup(self) -> None:
        from hjemmeprove.services.setup_file import export_setup_file

        path = self.choose_export_file()
        if not path:
            return
        store = self.app.store
        Op(self, lambda: export_setup_file(store, path)) \
            .success(lambda p: show_info(self, "Opsætning eksporteret", f"Gemt i {p}")) \
            .failure(lambda exc: show_error(self, exc)).run_in_background()

    def import_setup(self) -> None:
        from hjemmeprove.services.setup_file import import_setup_file

        path = self.choose_import_file()
        if not path:
            return
        store = self.app.store
        Op(self, lambda: import_setup_file(store, path)).success(self._imported) \
            .failure(lambda exc: show_error(self, exc)).run_in_background()

    def _imported(self, result) -> None:
        emit_changed("settings", "requests", "planning")
        self.reload()
        text = "\n".join(result.lines()) or "Filen indeholdt ingen rækker."
        if result.new_absences:
            text += ("\n\nNyt fravær er gemt uden at lægge ruterne om: planlæg de berørte "
                     "dage igen.")
        show_info(self, "Opsætning importeret", text)
