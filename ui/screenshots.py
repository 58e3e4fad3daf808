"""Screenshots of every view with demo data, taken offscreen (docs/screenshots/*.png).

    QT_QPA_PLATFORM=offscreen python -m ui.screenshots docs/screenshots

Fills a temporary database with the demo data (today = 2026-11-23 unless --today), opens the
main window at 1280×800, shows each view with a representative selection and saves it as an
8-bit PNG so the files stay small.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path


def _settle(qapp, seconds: float = 0.6) -> None:
    from ui import ops

    end = time.time() + seconds
    while time.time() < end or ops.running():
        qapp.processEvents()
        time.sleep(0.02)


def _save_small(img, path: Path) -> None:
    """An adaptive 256-colour PNG (Pillow, which reportlab brings along), else plain PNG."""
    try:
        from PIL import Image
    except ImportError:
        img.save(str(path), "PNG")
        return
    data = bytes(img.constBits())[: img.sizeInBytes()]
    pil = Image.frombuffer("RGB", (img.width(), img.height()), data, "raw", "RGB",
                           img.bytesPerLine(), 1)
    pil.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE) \
        .save(path, optimize=True)


def take(out: Path, today: dt.date, db: str | None = None) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    from hjemmeprove.app import App
    from hjemmeprove.demo import fill_demo
    from ui import errors, ops
    from ui.main import apply_style
    from ui.mainwindow import MainWindow

    qapp = QApplication.instance() or QApplication([])
    apply_style(qapp)
    ops.GuiCollector(qapp)
    errors.dialog_sink = []
    tmp = Path(tempfile.mkdtemp(prefix="hjemmeprove-shots-"))
    app = App(db or f"sqlite:///{tmp / 'demo.sqlite3'}", user="koordinator")
    if app.store.is_empty():
        fill_demo(app, seed=1, today=today)
    settings = QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat)
    w = MainWindow(app, today=today, settings=settings)
    w.resize(1280, 800)
    w.show()
    _settle(qapp, 1.0)
    out.mkdir(parents=True, exist_ok=True)
    saved = []

    def shot(name: str, wait: float = 0.8) -> None:
        _settle(qapp, wait)
        path = out / f"{name}.png"
        img = w.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        _save_small(img, path)
        saved.append(path)

    req = w.show_view("requests")
    _settle(qapp)
    # the default list: the active requests (open, planned, locked), nearest deadline first
    req.table.selectRow(2)
    shot("henvisninger")
    req.new_request()  # the form, with the core's field errors after a hasty save
    form = req.form
    form.set_values({"cpr": "010150-123", "name": "Karen Jensen", "address": "Vestergade 3",
                     "postcode": "57", "city": "Svendborg", "municipality": "479",
                     "received": today.isoformat(), "window_end": "10:00",
                     "note": "Fastende"})
    form.save()
    _settle(qapp, 0.8)
    img = form.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    _save_small(img, out / "henvisning-formular.png")
    saved.append(out / "henvisning-formular.png")
    form.ask_discard = lambda: True  # the shot's own input: throw it away without a question
    form.reject()

    plan = w.show_view("planning")
    _settle(qapp)
    cal = app.calendar()
    first = today if cal.is_working_day(today) else cal.next_working_day(today)
    plan.set_period(first, 5)
    shot("planlaegning", 1.5)

    # Kontakt: the day's reminder list with a consent to SMS and two calls marked
    rows = app.contact.day_list(first).rows
    if len(rows) >= 3:
        app.contact.set_preference(rows[0].request_id, "sms", True, "20 30 40 50", today)
        app.contact.mark(rows[1].visit_id, "reached", first)
        app.contact.mark(rows[2].visit_id, "not_reached", first, "telefonsvarer")
    w.show_view("contact").set_day(first)
    shot("kontakt", 1.0)

    close = w.show_view("day_close")
    _settle(qapp)
    close.set_day(first)  # today: planned routes still without km and outcomes
    shot("dagsafslutning", 1.0)

    bill = w.show_view("billing")
    _settle(qapp)
    month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    bill.set_month(month)
    _settle(qapp, 1.0)
    if hasattr(bill, "run_month"):
        bill.run_month()
        _settle(qapp, 2.0)
    shot("fakturering")  # the preview draws its first pages as the PDF arrives

    follow = w.show_view("followup")
    _settle(qapp)
    if hasattr(follow, "measure"):
        follow.measure.setCurrentIndex(1)
    shot("opfoelgning", 1.0)

    sett = w.show_view("settings")
    shot("indstillinger")
    sett.tabs.setCurrentIndex(1)
    shot("indstillinger-aftaler")
    w.close()
    app.close()
    return saved


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out", nargs="?", default="docs/screenshots")
    p.add_argument("--today", default="2026-11-23")
    p.add_argument("--db")
    a = p.parse_args()
    for path in take(Path(a.out), dt.date.fromisoformat(a.today), a.db):
        print(path, path.stat().st_size)
