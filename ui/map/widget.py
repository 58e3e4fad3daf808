"""A day's routes drawn offline on the municipal map (QGraphicsScene), with zoom and pan.

Stops are numbered circles in the route's colour, the lab a square, legs straight lines from
stop to stop (the map shows the order, not the road); ferry legs are dashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from ui.map.geo import ATTRIBUTION, load_municipalities, project

ROUTE_COLORS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457",
                "#4e342e"]


@dataclass
class MapStop:
    lat: float
    lon: float
    label: str = ""
    tooltip: str = ""
    ferry_leg: bool = False  # the leg *to* this stop crosses by ferry


@dataclass
class MapRoute:
    name: str
    stops: list[MapStop] = field(default_factory=list)
    ferry_home: bool = False  # the leg from the last stop back to the lab crosses by ferry
    color: str = ""


class RouteMap(QGraphicsView):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QBrush(QColor("#dbe9f4")))  # sea
        self.setMinimumSize(300, 250)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.route_items: list = []
        self.stop_items: list = []
        self._draw_background()
        self._fit_rect: QRectF | None = None

    # --- background -------------------------------------------------------------------------

    def _draw_background(self) -> None:
        scene = self.scene()
        land = QBrush(QColor("#f4f1ea"))
        border = QPen(QColor("#a7a093"), 0)
        border.setCosmetic(True)
        for shape in load_municipalities():
            path = QPainterPath()
            for poly in shape.polygons:
                for ring in poly:
                    path.addPolygon(QPolygonF([QPointF(x, y) for x, y in ring]))
                    path.closeSubpath()
            item = QGraphicsPathItem(path)
            item.setBrush(land)
            item.setPen(border)
            item.setToolTip(f"{shape.name} ({shape.code})")
            item.setZValue(0)
            scene.addItem(item)
            if shape.area > 150:
                label = QGraphicsSimpleTextItem(shape.name)
                label.setBrush(QBrush(QColor("#8c8577")))
                label.setFont(QFont("DejaVu Sans", 8))
                label.setFlag(label.GraphicsItemFlag.ItemIgnoresTransformations)
                label.setPos(*shape.centroid)
                label.setZValue(1)
                scene.addItem(label)
        self.setSceneRect(scene.itemsBoundingRect().adjusted(-10, -10, 10, 10))

    # --- routes -----------------------------------------------------------------------------

    def clear_routes(self) -> None:
        for item in self.route_items:
            self.scene().removeItem(item)
        self.route_items = []
        self.stop_items = []

    def show_routes(self, lab: tuple[float, float] | None, routes: list[MapRoute]) -> None:
        self.clear_routes()
        scene = self.scene()
        pts_all: list[QPointF] = []
        lab_pt = QPointF(*project(*lab)) if lab else None
        for i, route in enumerate(routes):
            color = QColor(route.color or ROUTE_COLORS[i % len(ROUTE_COLORS)])
            points = [QPointF(*project(s.lat, s.lon)) for s in route.stops]
            chain = ([lab_pt] if lab_pt else []) + points + ([lab_pt] if lab_pt else [])
            ferry = ([s.ferry_leg for s in route.stops] + [route.ferry_home]) if lab_pt else \
                [s.ferry_leg for s in route.stops[1:]]
            for k, (a, b) in enumerate(zip(chain, chain[1:])):
                pen = QPen(color, 2.2)
                pen.setCosmetic(True)
                if k < len(ferry) and ferry[k]:
                    pen.setStyle(Qt.PenStyle.DashLine)
                path = QPainterPath(a)
                path.lineTo(b)
                item = scene.addPath(path, pen)
                item.setZValue(5)
                item.setToolTip(f"{route.name}" + (" – færge" if pen.style() ==
                                                   Qt.PenStyle.DashLine else ""))
                item.setData(0, "ferry" if pen.style() == Qt.PenStyle.DashLine else "leg")
                self.route_items.append(item)
            for n, (stop, p) in enumerate(zip(route.stops, points), start=1):
                dot = _Marker(p, color, stop.label or str(n))
                dot.setToolTip(stop.tooltip or f"{route.name}, stop {n}")
                scene.addItem(dot)
                self.route_items.append(dot)
                self.stop_items.append(dot)
            pts_all += points
        if lab_pt is not None:
            lab_item = scene.addRect(QRectF(-5, -5, 10, 10), QPen(QColor("black"), 1),
                                     QBrush(QColor("#ffd600")))
            lab_item.setFlag(lab_item.GraphicsItemFlag.ItemIgnoresTransformations)
            lab_item.setPos(lab_pt)
            lab_item.setZValue(20)
            lab_item.setToolTip("Laboratoriet")
            self.route_items.append(lab_item)
            pts_all.append(lab_pt)
        if pts_all:
            xs = [p.x() for p in pts_all]
            ys = [p.y() for p in pts_all]
            rect = QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
            self._fit_rect = rect.adjusted(-6, -6, 6, 6)
        else:
            self._fit_rect = None
        self.fit()

    def fit(self) -> None:
        rect = self._fit_rect or self.sceneRect()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()

    def wheelEvent(self, event) -> None:
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.zoom(factor)

    def zoom(self, factor: float) -> None:
        current = self.transform().m11()
        if 0.5 < current * factor < 2000:
            self.scale(factor, factor)

    def drawForeground(self, painter: QPainter, rect) -> None:
        painter.save()
        painter.resetTransform()
        painter.setFont(QFont("DejaVu Sans", 7))
        painter.setPen(QColor("#555"))
        vp = self.viewport().rect()
        painter.drawText(vp.adjusted(4, 0, -4, -3),
                         int(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight
                             | Qt.TextFlag.TextWordWrap), ATTRIBUTION)
        painter.restore()


class _Marker(QGraphicsEllipseItem):
    """A stop: a filled circle with its number, the same size at every zoom."""

    R = 8

    def __init__(self, pos: QPointF, color: QColor, text: str):
        super().__init__(-self.R, -self.R, 2 * self.R, 2 * self.R)
        self.setPos(pos)
        self.setBrush(QBrush(color))
        self.setPen(QPen(QColor("white"), 1.5))
        self.setFlag(self.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setZValue(10)
        label = QGraphicsSimpleTextItem(text, self)
        label.setBrush(QBrush(QColor("white")))
        f = QFont("DejaVu Sans", 7)
        f.setBold(True)
        label.setFont(f)
        br = label.boundingRect()
        label.setPos(-br.width() / 2, -br.height() / 2)
        self.text = text
