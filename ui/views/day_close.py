"""Dagsafslutning (shell until the core service is wired in)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QVBoxLayout, QWidget

from ui.widgets import Unavailable, title


class DayCloseView(QWidget):
    def __init__(self, app, parent=None, today: dt.date | None = None):
        super().__init__(parent)
        self.app = app
        self.today = today
        lay = QVBoxLayout(self)
        lay.addWidget(title("Dagsafslutning", "Kørte km, færgeminutter og udfald pr. besøg."))
        lay.addWidget(Unavailable("Dagsafslutning", "Kernens tjeneste er endnu ikke færdig."), 1)
