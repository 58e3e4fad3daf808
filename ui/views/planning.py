"""Planlægning (shell until the core service is wired in)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QVBoxLayout, QWidget

from ui.widgets import Unavailable, title


class PlanningView(QWidget):
    def __init__(self, app, parent=None, today: dt.date | None = None):
        super().__init__(parent)
        self.app = app
        self.today = today
        lay = QVBoxLayout(self)
        lay.addWidget(title("Planlægning", "Ruter pr. dag og bioanalytiker, kort, optimering og breve."))
        lay.addWidget(Unavailable("Planlægning", "Kernens tjeneste er endnu ikke færdig."), 1)
