"""Opfølgning: counts per municipality and month for the follow-up committees, with a chart
(QtCharts) and export to CSV and PDF."""

from __future__ import annotations

import datetime as dt
import io

from hjemmeprove.fileio import write_atomic

from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QChart, QChartView, \
    QValueAxis
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
)

from hjemmeprove.documents import csvsafe
from ui import fmt
from ui.errors import show_error, show_info
from ui.map.widget import ROUTE_COLORS
from ui.models.table import Column, RowTableModel
from ui.ops import Op
from ui.widgets import ServiceView, SortProxy, table_view, title

MEASURES = [("requests_received", "Henvisninger modtaget"),
            ("samplings_done", "Prøvetagninger udført"),
            ("distinct_citizens", "Forskellige borgere")]


class FollowupView(ServiceView):
    areas = {"requests", "day_close", "planning"}

    def __init__(self, app, parent=None, today: dt.date | None = None):
        super().__init__(parent)
        self.app = app
        self.today = today or dt.date.today()
        self.stats_data = None
        lay = QVBoxLayout(self)
        lay.addWidget(title("Opfølgning", "Antal pr. kommune og måned til opfølgningsudvalgene "
                                          "(KLU og SOF): modtagne henvisninger, udførte "
                                          "prøvetagninger og forskellige borgere."))
        self.stats = app.stats
        bar = QHBoxLayout()
        self.year = QSpinBox()
        self.year.setRange(2020, 2100)
        self.year.setValue(self.today.year)
        self.year.setPrefix("År ")
        self.measure = QComboBox()
        for key, label in MEASURES:
            self.measure.addItem(label, key)
        self.export_csv = QPushButton("Eksportér CSV…")
        self.export_pdf = QPushButton("Eksportér PDF…")
        for w in (self.year, self.measure):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.export_csv)
        bar.addWidget(self.export_pdf)
        lay.addLayout(bar)

        split = QSplitter(Qt.Orientation.Vertical)
        self.model = RowTableModel(self._columns())
        self.table = table_view(SortProxy(self.model, self))
        split.addWidget(self.table)
        self.chart = QChart()
        self.chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignRight)
        self.chart.setMargins(QMargins(4, 4, 4, 4))
        self.chart_view = QChartView(self.chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(240)
        split.addWidget(self.chart_view)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)
        split.setSizes([220, 420])
        lay.addWidget(split, 1)
        self.total_label = QLabel()
        lay.addWidget(self.total_label)

        self.year.valueChanged.connect(self.reload)
        self.measure.currentIndexChanged.connect(self._show)
        self.export_csv.clicked.connect(lambda: self.export("csv"))
        self.export_pdf.clicked.connect(lambda: self.export("pdf"))

    def _columns(self):
        key = lambda: self.measure.currentData()  # noqa: E731
        cols = [Column("Kommune", lambda m: f"{m.name} ({m.code})")]
        for i in range(12):
            month = f"{{y}}-{i + 1:02d}"
            cols.append(Column(fmt.MONTHS_SHORT_DA[i].capitalize(),
                               lambda m, month=month: str(getattr(
                                   m.months.get(month.format(y=self.year.value())),
                                   key(), 0) or 0),
                               sort=lambda m, month=month: getattr(
                                   m.months.get(month.format(y=self.year.value())), key(), 0),
                               right=True))
        cols.append(Column("I alt", lambda m: str(getattr(m.year_total, key())),
                           sort=lambda m: getattr(m.year_total, key()), right=True))
        return cols

    def reload(self) -> None:
        year = self.year.value()
        self._generation = getattr(self, "_generation", 0) + 1
        gen = self._generation
        Op(self, lambda: self.stats.year(year)).success(
            lambda res: self._got(res) if gen == self._generation else None).run_in_background()

    def _got(self, data) -> None:
        self.stats_data = data
        self._show()

    def _show(self) -> None:
        data = self.stats_data
        if data is None:
            return
        key = self.measure.currentData()
        label = self.measure.currentText()
        self.model.set_rows(data.municipalities)
        self.table.resizeColumnsToContents()
        t = data.total
        self.total_label.setText(
            f"{data.year} i alt: {t.requests_received} henvisninger modtaget, "
            f"{t.samplings_done} prøvetagninger, {t.distinct_citizens} forskellige borgere "
            "(en borger tælles én gang pr. år).")
        self.chart.removeAllSeries()
        if not hasattr(self, "x_axis"):
            self.x_axis = QBarCategoryAxis()
            self.x_axis.append(fmt.MONTHS_SHORT_DA)
            self.y_axis = QValueAxis()
            self.y_axis.setLabelFormat("%d")
            self.chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
            self.chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        series = QBarSeries()
        top = 0
        for i, m in enumerate(data.municipalities):
            s = QBarSet(m.name)
            s.setColor(QColor(ROUTE_COLORS[i % len(ROUTE_COLORS)]))
            for n in range(12):
                v = getattr(m.months.get(f"{data.year}-{n + 1:02d}"), key, 0) or 0
                s.append(v)
                top = max(top, v)
            series.append(s)
        self.chart.addSeries(series)
        self.chart.setTitle(f"{label} pr. måned, {data.year}")
        self.y_axis.setRange(0, max(10, int(top * 1.1) + 1))
        self.y_axis.applyNiceNumbers()
        series.attachAxis(self.x_axis)
        series.attachAxis(self.y_axis)

    def csv_bytes(self) -> bytes:
        buf = io.StringIO()
        csvsafe.writer(buf).writerows(self.stats_data.csv_rows())
        return buf.getvalue().encode("utf-8-sig")

    def export(self, kind: str, path: str | None = None) -> None:
        if self.stats_data is None:
            return
        year = self.stats_data.year
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Eksportér opfølgning", f"opfoelgning-{year}.{kind}",
                "CSV (*.csv)" if kind == "csv" else "PDF (*.pdf)")
            if not path:
                return
        if kind == "csv":
            data = self.csv_bytes()
            work = lambda: write_atomic(path, data)  # noqa: E731
        else:
            work = lambda: write_atomic(path, self.stats.pdf(year))  # noqa: E731
        Op(self, work).success(lambda _n: show_info(self, "Eksporteret", f"Gemt i {path}")) \
            .failure(lambda exc: show_error(self, exc)).run_in_background()


