"""One application-wide "what changed" signal (the Anki pattern).

A view that changes data emits ``hub().changed.emit({"requests", "planning"})``; every view
listening reloads when one of its areas is named. Areas: requests, planning, day_close,
billing, settings, rates.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

AREAS = frozenset({"requests", "planning", "day_close", "billing", "settings", "rates"})


class Hub(QObject):
    changed = Signal(set)


_hub: Hub | None = None


def hub() -> Hub:
    global _hub
    if _hub is None:
        _hub = Hub()
    return _hub


def emit_changed(*areas: str) -> None:
    hub().changed.emit(set(areas))
