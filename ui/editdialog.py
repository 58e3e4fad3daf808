"""One dialog to edit any plain row (dataclass) field by field, with errors at the field.

    EditDialog(parent, "Kommune", row, [F("ean", "EAN"), ...], save=admin.save_municipality)

``save`` runs in the background (ui.ops); a ValidationError is shown at the fields it names
(matched on the Danish label), anything else as a dialog. ``questions(row)`` (optional) lists
what saving that row needs an explicit yes for (an unusual value, a missing source): asked
first (``ask_confirm``), saved only on yes. Escape or closing asks before a changed dialog is
thrown away (``ask_discard``, ui.widgets.ConfirmDiscard).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from PySide6.QtCore import QDate, QTime, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from hjemmeprove.errors import ValidationError
from ui import fmt
from ui.errors import show_error
from ui.ops import Op
from ui.widgets import FIELD_ERROR_STYLE, ConfirmDiscard, confirm, error_label


@dataclass(frozen=True)
class F:
    attr: str
    label: str
    kind: str = "str"  # str, int, float, decimal, date, time, bool, choice, multi
    optional: bool = False  # empty -> None (decimal, date)
    choices: tuple = ()  # (value, text) pairs for "choice" and "multi" (comma-joined codes)
    read_only: bool = False
    help: str = ""


class EditDialog(ConfirmDiscard, QDialog):
    saved = Signal(object)

    def __init__(self, parent, title: str, row: Any, spec: list[F],
                 save: Callable[[Any], Any], intro: str = "",
                 questions: Callable[[Any], list[str]] | None = None):
        super().__init__(parent)
        self.questions = questions
        self.setWindowTitle(title)
        self.row = row
        self.spec = spec
        self.save_fn = save
        self.edits: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        lay = QVBoxLayout(self)
        if intro:
            label = QLabel(intro)
            label.setWordWrap(True)
            lay.addWidget(label)
        self.summary = error_label()
        lay.addWidget(self.summary)
        form = QFormLayout()
        for f in spec:
            w = self._widget(f, getattr(row, f.attr))
            w.setEnabled(not f.read_only)
            if f.help:
                w.setToolTip(f.help)
            err = error_label()
            holder = QWidget()
            v = QVBoxLayout(holder)
            v.setContentsMargins(0, 0, 0, 0)
            v.setSpacing(1)
            v.addWidget(w)
            v.addWidget(err)
            form.addRow(f.label, holder)
            self.edits[f.attr] = w
            self.errors[f.attr] = err
        lay.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("Gem")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Annullér")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        QShortcut(QKeySequence.StandardKey.Save, self, activated=self.save)
        self.setMinimumWidth(460)
        self.mark_pristine()

    def ask_confirm(self, text: str) -> bool:
        """The explicit yes ``questions`` need (tests replace this)."""
        return confirm(self, "Bekræft", text, yes="Ja, gem", no="Nej, ret")

    def _widget(self, f: F, value) -> QWidget:
        if f.kind == "bool":
            w = QCheckBox()
            w.setChecked(bool(value))
            return w
        if f.kind == "multi":  # a box per choice, shown by its label; the value is "a,b"
            w = QWidget()
            row = QHBoxLayout(w)
            row.setContentsMargins(0, 0, 0, 0)
            chosen = {c.strip() for c in str(value or "").split(",") if c.strip()}
            for v, text in f.choices:
                box = QCheckBox(text)
                box.setProperty("code", v)
                box.setChecked(v in chosen)
                row.addWidget(box)
            row.addStretch(1)
            return w
        if f.kind == "choice":
            w = QComboBox()
            for v, text in f.choices:
                w.addItem(text, v)
            i = w.findData(value)
            w.setCurrentIndex(max(i, 0))
            return w
        if f.kind == "date" and not f.optional:
            w = QDateEdit(QDate(value.year, value.month, value.day) if value else
                          QDate.currentDate())
            w.setCalendarPopup(True)
            w.setDisplayFormat(fmt.QT_DATE)
            return w
        if f.kind == "time":
            w = QTimeEdit(QTime(value.hour, value.minute) if value else QTime(8, 0))
            w.setDisplayFormat(fmt.QT_CLOCK)
            return w
        w = QLineEdit()
        if value is None:
            text = ""
        elif f.kind == "date":
            text = fmt.date(value)
        elif f.kind == "decimal":
            text = format(value, "f").replace(".", ",")
        else:
            text = str(value)
        w.setText(text)
        if f.kind == "date":
            w.setPlaceholderText(fmt.DATE_PLACEHOLDER + (" (tom = ingen)" if f.optional else ""))
        return w

    def _value(self, f: F):
        w = self.edits[f.attr]
        if f.kind == "multi":
            return ",".join(b.property("code") for b in w.findChildren(QCheckBox)
                            if b.isChecked())
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QDateEdit):
            return w.date().toPython()
        if isinstance(w, QTimeEdit):
            return w.time().toPython().replace(second=0, microsecond=0)
        text = w.text().strip()
        if f.kind == "str":
            return text
        if not text and f.optional:
            return None
        try:
            if f.kind == "int":
                return int(text)
            if f.kind == "float":
                return float(text.replace(",", "."))
            if f.kind == "decimal":
                return Decimal(text.replace(".", "").replace(",", ".")
                               if "," in text else text)
            if f.kind == "date":
                from hjemmeprove.domain.request_input import parse_date
                return parse_date(text)
        except (ValueError, InvalidOperation) as exc:
            msg = str(exc) if f.kind == "date" else f"'{text}' er ikke et tal"
            raise ValidationError(msg, f.label) from None
        return text

    def values(self) -> dict:
        out, errs = {}, []
        for f in self.spec:
            try:
                out[f.attr] = self._value(f)
            except ValidationError as exc:
                errs += exc.errors
        if errs:
            raise ValidationError(errs)
        return out

    def set_text(self, attr: str, text: str) -> None:
        """For tests and scripted use: type into a text field."""
        self.edits[attr].setText(text)

    def save(self) -> None:
        for label in self.errors.values():
            label.hide()
        for w in self.edits.values():
            w.setStyleSheet("")
        self.summary.hide()
        try:
            new = replace(self.row, **self.values())
        except ValidationError as exc:
            self.show_errors(exc)
            return
        asked = self.questions(new) if self.questions is not None else []
        if asked and not self.ask_confirm("\n\n".join(asked) + "\n\nGem alligevel?"):
            return
        Op(self, lambda: self.save_fn(new)).success(lambda r: self._done(new, r)) \
            .failure(self._failed).run_in_background()

    def _done(self, new, result) -> None:
        self.saved.emit(result if result is not None else new)
        self.accept()

    def _failed(self, exc) -> None:
        if isinstance(exc, ValidationError):
            self.show_errors(exc)
        else:
            show_error(self, exc)

    def show_errors(self, exc: ValidationError) -> None:
        by_label = {f.label.lower(): f.attr for f in self.spec}
        by_label.update({f.attr.lower(): f.attr for f in self.spec})
        rest = []
        for e in exc.errors:
            attr = by_label.get(e.field.lower())
            if attr:
                label = self.errors[attr]
                label.setText(e.message[:1].upper() + e.message[1:])
                label.show()
                self.edits[attr].setStyleSheet(FIELD_ERROR_STYLE)
            else:
                rest.append(str(e))
        self.summary.setText("Ret de markerede felter." + ("\n" + "\n".join(rest)
                                                         if rest else ""))
        self.summary.show()

    def field_error(self, attr: str) -> str:
        label = self.errors[attr]
        return "" if label.isHidden() else label.text()


def today() -> dt.date:
    return dt.date.today()
