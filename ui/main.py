"""Starts the desktop program: ``hjemmeprove gui`` calls :func:`run`.

Shows the main window first and opens the core after its first paint, off the GUI thread
(migrating the database; SQLAlchemy and the models load then, not before the paint), fills
demo data into an empty database while the window says so when asked to (``--demo-if-empty``:
``tools/start.sh`` asks; a department's real installation does not); the window on an empty
database offers demo data or the department's set-up (``mainwindow.StartPage``). The window
builds a view when it is first shown, and the first one once the database is open.
``selftest=True`` checks that the program (also as a PyInstaller bundle) can open a database,
compute a fee, render a PDF and solve a tiny routing problem, and returns 0 or 1 without
showing a window.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import tempfile
import traceback
from decimal import Decimal
from pathlib import Path

log = logging.getLogger("hjemmeprove.ui")


# --- self-test ---------------------------------------------------------------------------------


def selftest(db: str | None = None, out=print) -> int:
    """Each step prints one line; returns 0 when all passed, 1 otherwise."""
    tmp = tempfile.mkdtemp(prefix="hjemmeprove-selftest-")
    url = db or f"sqlite:///{Path(tmp) / 'selftest.sqlite3'}"
    steps = [("database", lambda: _st_database(url)), ("gebyr", _st_fee), ("pdf", _st_pdf),
             ("ruteplan", _st_solve), ("anden proces", _st_second_process), ("qt", _st_qt)]
    failed = 0
    for name, step in steps:
        try:
            detail = step()
            out(f"OK    {name}: {detail}")
        except Exception as exc:  # noqa: BLE001 - the self-test reports every failure
            failed += 1
            out(f"FEJL  {name}: {type(exc).__name__}: {exc}")
            traceback.print_exc()
    out("selvtest bestået" if not failed else f"selvtest fejlede ({failed} trin)")
    return 0 if not failed else 1


def _st_database(url: str) -> str:
    from hjemmeprove.app import App
    from hjemmeprove.services.reference import load_defaults

    app = App(url, user="selftest")
    try:
        load_defaults(app.store)
        n = len(app.admin.list_municipalities())
        deadline = app.calendar().deadline(dt.date(2024, 3, 22))
        if deadline != dt.date(2024, 4, 10):  # Easter 2024 inside the 10 working days
            raise AssertionError(f"frist {deadline}, ventet 2024-04-10")
        return f"{app.store.engine.dialect.name}, {n} kommuner, frist {deadline}"
    finally:
        app.close()


def _st_fee() -> str:
    from hjemmeprove.billing.fees import LineRates, Quantities, quote

    _lines, total = quote(Quantities(referrals=10, km=Decimal("84.3")),
                          LineRates(Decimal("147.38"), Decimal("5.16"), Decimal("3.52")))
    if total != Decimal("2205.53"):  # docs/domain.md's worked example
        raise AssertionError(f"total {total}, ventet 2205.53")
    return f"eksemplet giver {total} kr."


def _st_pdf() -> str:
    from io import BytesIO

    from reportlab.platypus import Paragraph, SimpleDocTemplate

    from hjemmeprove.documents.common import kr, styles

    buf = BytesIO()
    st = styles()
    SimpleDocTemplate(buf).build([Paragraph("Selvtest: blodprøvetagning i eget hjem, "
                                            f"Ærø og Ålsgårde {kr(Decimal('1234.5'))}",
                                            st["Normal"])])
    data = buf.getvalue()
    if not data.startswith(b"%PDF") or b"DejaVu" not in data:
        raise AssertionError("PDF uden indlejret skrifttype")
    from reportlab.lib import rl_accel

    if "fp_str" not in getattr(rl_accel, "_c_funcs", {}):  # the bundle lost _rl_accel
        raise AssertionError("reportlabs C-accelerator (rl_accel) mangler")
    return f"{len(data)} bytes med indlejret DejaVuSans, rl_accel i C"


def _st_solve() -> str:
    """A tiny plan through the core's planner (OR-Tools routing: the bundle's hidden imports)."""
    from hjemmeprove.planning import planner
    from hjemmeprove.planning.distances import DistanceSource

    day = dt.date(2024, 3, 12)
    analyst = planner.PlanAnalyst(1, "Selvtest", dt.time(8), dt.time(15))
    towns = [(55.0598, 10.6068), (55.0951, 10.2423), (55.3127, 10.7897)]
    reqs = [planner.PlanRequest(i + 1, lat, lon, dt.date(2024, 3, 1), dt.date(2024, 3, 15))
            for i, (lat, lon) in enumerate(towns)]
    outcome = planner.plan((55.0587, 10.5931), [day], [analyst], reqs, DistanceSource(),
                           planner.PlanConfig(), time_limit_s=2.0)
    planned = sorted(rid for r in outcome.routes for st in r.stops for rid in st.request_ids)
    if planned != [1, 2, 3] or outcome.unplanned:
        raise AssertionError(f"planlagt {planned}, uplanlagt {outcome.unplanned}")
    km = sum(r.km for r in outcome.routes)
    return f"3 besøg på 1 rute, {km:.1f} km"


def _st_second_process() -> str:
    """A second process of the program (spawned, as the planner's searches and the billing
    run's documents are): a frozen bundle needs ``freeze_support`` in its entry point."""
    from hjemmeprove.billing.render import Helper

    with Helper() as helper:
        helper.submit(None)  # no work: it loads the renderers and fonts, then ends
        helper.proc.join(timeout=60)
        if helper.proc.exitcode != 0:
            raise AssertionError("den anden proces sluttede ikke som ventet "
                                 f"(kode {helper.proc.exitcode})")
    return "startet, indlæste dokumenterne og sluttede"


def _st_qt() -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from ui.map.geo import load_municipalities

    QApplication.instance() or QApplication(sys.argv[:1])
    shapes = load_municipalities()
    from PySide6 import QtCharts, QtPdf  # noqa: F401 - the add-on wheels are bundled

    _ = QSettings
    return f"Qt offscreen, {len(shapes)} kommunegrænser, QtCharts og QtPdf"


# --- the program ---------------------------------------------------------------------------------


def _setup_logging() -> Path | None:
    from hjemmeprove.logging_setup import CprMaskingFilter
    from hjemmeprove.paths import data_dir

    try:

        from hjemmeprove.logging_setup import file_handler

        path = data_dir() / "hjemmeprove.log"
        handler = file_handler(path)  # 0600, CPR-masked
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    logging.getLogger("hjemmeprove").setLevel(logging.INFO)  # not every library's INFO
    handler.addFilter(CprMaskingFilter())
    return path


def apply_style(qapp) -> None:
    from PySide6.QtGui import QFont

    qapp.setStyle("Fusion")
    font = QFont("DejaVu Sans", 10)
    qapp.setFont(font)
    qapp.setStyleSheet("""
        QListWidget#nav { background: #24344d; color: #e8edf5; border: none; font-size: 14px;
                          padding-top: 8px; }
        QListWidget#nav::item { padding: 6px 10px; }
        QListWidget#nav::item:selected { background: #3d5a88; color: white; }
        QGroupBox { font-weight: 600; margin-top: 8px; }
        QGroupBox::title { subcontrol-origin: margin; left: 6px; padding: 0 3px; }
        QTableView { gridline-color: #e3e3e3; selection-background-color: #cfe0fa;
                     selection-color: black; }
        QHeaderView::section { background: #eef1f5; padding: 4px; border: none;
                               border-right: 1px solid #d6dbe3;
                               border-bottom: 1px solid #d6dbe3; }
        QPushButton { padding: 4px 12px; }
    """)


MIGRATE_TEXT = "Klargør databasen (opretter eller opdaterer dens tabeller) …"
DEMO_FILL_TEXT = ("Databasen er tom: opretter demodata (afdeling, kommuner, bioanalytikere og "
                  "tre måneders henvisninger) …")


def open_app(db: str | None, user: str | None, demo_if_empty: bool = False):
    """The main window's ``open_app``: opens (and migrates) the database off the GUI thread
    once the window has painted, and fills an empty one with demo data when asked to."""

    def opener(progress):
        from hjemmeprove.app import App
        from hjemmeprove.db import migrate

        app = App(db, user=user, upgrade=False)
        try:
            if not migrate.is_current(app.store):  # one query; Alembic only if it is not
                progress.update(text=MIGRATE_TEXT)
                app.store.upgrade()
            if demo_if_empty and app.store.is_empty():
                from hjemmeprove.demo import fill_demo

                progress.update(text=DEMO_FILL_TEXT)
                log.info("%s", fill_demo(app))
        except BaseException:
            app.close()
            raise
        return app

    return opener


def run(db: str | None = None, user: str | None = None, selftest: bool = False,
        demo_if_empty: bool = False, today: dt.date | None = None) -> int:
    """The window shows before the database is touched: SQLAlchemy, the models and the
    migration check load off the GUI thread after its first paint (``MainWindow``'s
    ``open_app``); an error there is shown in Danish and the program ends with 1."""
    if selftest:
        return globals()["selftest"](db)
    from PySide6.QtWidgets import QApplication

    from hjemmeprove.paths import private_umask
    from ui import errors, ops
    from ui.mainwindow import MainWindow

    private_umask()  # the database, logs and every document: owner-only
    _setup_logging()
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setApplicationName("Hjemmeprøve")
    qapp.setOrganizationName("hjemmeprove")
    apply_style(qapp)
    errors.install_excepthook()
    ops.GuiCollector(qapp)  # garbage collected on this thread only (ui.ops)
    window = None
    try:
        window = MainWindow(today=today, open_app=open_app(db, user, demo_if_empty))
        window.failed.connect(lambda _exc: qapp.exit(1))
        window.show()
        return qapp.exec()
    except Exception as exc:  # noqa: BLE001
        errors.show_error(None, exc)
        return 1
    finally:
        if window is not None and window.app is not None:
            window.app.close()
