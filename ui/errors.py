"""Errors never get lost: user errors as a clear dialog, unexpected ones logged and shown."""

from __future__ import annotations

import logging
import sys
import traceback

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from hjemmeprove.errors import ConflictError, HjemmeproveError, NotFound, ValidationError

log = logging.getLogger("hjemmeprove.ui")

# Tests set this to collect dialogs instead of showing modal boxes.
dialog_sink: list | None = None


def describe(exc: BaseException) -> tuple[str, str, str]:
    """(title, text, details) for an exception, in Danish."""
    if isinstance(exc, ValidationError):
        lines = "\n".join(f"• {e}" for e in exc.errors)
        return "Kontrollér indtastningen", f"Der er fejl i indtastningen:\n{lines}", ""
    if isinstance(exc, ConflictError):
        return "Ændret af en anden", str(exc), ""
    if isinstance(exc, NotFound):
        return "Findes ikke", str(exc)[:1].upper() + str(exc)[1:], ""
    if isinstance(exc, HjemmeproveError):
        return "Det lykkedes ikke", str(exc), ""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ("Uventet fejl",
            f"Der opstod en uventet fejl: {type(exc).__name__}: {exc}\n\n"
            "Fejlen er skrevet i programmets log. Giv detaljerne til IT-support.", details)


def show_error(parent: QWidget | None, exc: BaseException) -> None:
    title, text, details = describe(exc)
    if details:
        log.error("uventet fejl\n%s", details)
    if dialog_sink is not None:
        dialog_sink.append((title, text))
        return
    box = QMessageBox(QMessageBox.Icon.Critical if details else QMessageBox.Icon.Warning,
                      title, text, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.exec()


def show_info(parent: QWidget | None, title: str, text: str) -> None:
    if dialog_sink is not None:
        dialog_sink.append((title, text))
        return
    QMessageBox.information(parent, title, text)


def install_excepthook() -> None:
    """An exception that escapes a slot is logged and shown, never swallowed."""

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        exc.__traceback__ = tb
        log.error("ufanget undtagelse", exc_info=(exc_type, exc, tb))
        if QApplication.instance() is not None:
            show_error(QApplication.activeWindow(), exc)

    sys.excepthook = hook
