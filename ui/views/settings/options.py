"""Indstillinger, the program's options: one form over every option that
``hjemmeprove/settings.py`` declares (its label, kind and choices come from there).

Saving is all or nothing (``Settings.set_many``). A road engine chosen as distance source
(OSRM or Valhalla) needs its address and is tried before anything is saved: one two-point
matrix with a short timeout, so a wrong address fails here, not at the next Optimér."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from hjemmeprove.domain import labels
from hjemmeprove.errors import FieldError, ValidationError
from hjemmeprove.planning.distances import DistanceError, OsrmTable, ValhallaMatrix
from hjemmeprove.settings import OPTIONS
from ui.errors import show_error, show_info
from ui.ops import Op
from ui.signals import emit_changed


PROBE_TIMEOUT_S = 3.0
ROAD_ENGINES = {"osrm": OsrmTable, "valhalla": ValhallaMatrix}
_NEAR_SVENDBORG = (55.0598, 10.6068)


def check_distance_source(kind: str, url: str, near: tuple[float, float] = _NEAR_SVENDBORG,
                          timeout: float | None = None) -> None:
    """Raises ValidationError naming the address field when ``kind`` is a road engine with
    no address, or one that does not answer a two-point matrix around ``near`` in time."""
    engine = ROAD_ENGINES.get(kind)
    if engine is None:
        return
    field = OPTIONS["distance.url"].label
    name = labels.distance_source_label(kind)
    url = (url or "").strip()
    if not url:
        raise ValidationError([FieldError(field, f"skal udfyldes, når afstandskilden er {name}")])
    if not url.startswith(("http://", "https://")):
        raise ValidationError([FieldError(field, f"'{url}' er ikke en adresse (http://… eller "
                                                 "https://…)")])
    lat, lon = near
    try:
        engine(url, timeout=timeout or PROBE_TIMEOUT_S).road_matrix([(lat, lon), (lat + 0.01, lon + 0.01)])
    except DistanceError as exc:
        raise ValidationError([FieldError(field, f"{name} svarede ikke rigtigt: {exc}; "
                                                 "intet er gemt")]) from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:  # answered, but not a matrix
        raise ValidationError([FieldError(field, f"{name} på {url} svarede ikke med en "
                                                 f"afstandstabel ({type(exc).__name__}); "
                                                 "intet er gemt")]) from None


class OptionsPage(QScrollArea):
    """Every shown option in hjemmeprove.settings.OPTIONS with its Danish label; an option
    with choices is a list of the choices' labels (``domain/labels.py``), never codes."""

    def __init__(self, settings_view, parent=None):
        super().__init__(parent)
        self.app = settings_view.app
        self.setWidgetResizable(True)
        inner = QWidget()
        v = QVBoxLayout(inner)
        form = QFormLayout()
        self.edits: dict[str, QWidget] = {}
        for key, opt in OPTIONS.items():
            if not opt.shown:
                continue
            if opt.choices is not None:
                w = QComboBox()
                for value, text in opt.choices.items():
                    w.addItem(text, value)
            elif opt.kind is bool:
                w = QCheckBox()
            elif opt.kind is int:  # the option's own bounds (hjemmeprove/settings.py)
                w = QSpinBox()
                w.setRange(*(int(b) for b in opt.bounds or (0, 100000)))
            elif opt.kind is float:
                w = QDoubleSpinBox()
                w.setRange(*(opt.bounds or (0, 100)))
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
        admin = self.app.admin
        probe = ("distance.source" in changed or "distance.url" in changed) \
            and new.get("distance.source") in ROAD_ENGINES

        def work():
            if probe:
                labs = [(d.lab_lat, d.lab_lon) for d in admin.list_departments()
                        if d.lab_lat is not None and d.lab_lon is not None]
                check_distance_source(new["distance.source"], new.get("distance.url", ""),
                                      labs[0] if labs else _NEAR_SVENDBORG)
            settings.set_many(changed)  # all or nothing
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
            show_error(self, exc)
