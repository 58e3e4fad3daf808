"""Icons drawn in code (no image files to ship): the app's blood drop, and the navigation's
icons from Qt's built-in style."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPixmap
from PySide6.QtWidgets import QStyle

_NAV = {
    "requests": QStyle.StandardPixmap.SP_FileDialogDetailedView,
    "planning": QStyle.StandardPixmap.SP_DirOpenIcon,
    "day_close": QStyle.StandardPixmap.SP_DialogApplyButton,
    "billing": QStyle.StandardPixmap.SP_FileIcon,
    "followup": QStyle.StandardPixmap.SP_FileDialogContentsView,
    "settings": QStyle.StandardPixmap.SP_FileDialogListView,
}


def nav_icon(key: str, style: QStyle) -> QIcon:
    return style.standardIcon(_NAV.get(key, QStyle.StandardPixmap.SP_FileIcon))


def app_icon() -> QIcon:
    icon = QIcon()
    for size in (16, 32, 64, 128):
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = size / 64
        path = QPainterPath(QPointF(32 * s, 4 * s))
        path.cubicTo(QPointF(32 * s, 4 * s), QPointF(10 * s, 32 * s), QPointF(10 * s, 42 * s))
        path.cubicTo(QPointF(10 * s, 54 * s), QPointF(20 * s, 62 * s), QPointF(32 * s, 62 * s))
        path.cubicTo(QPointF(44 * s, 62 * s), QPointF(54 * s, 54 * s), QPointF(54 * s, 42 * s))
        path.cubicTo(QPointF(54 * s, 32 * s), QPointF(32 * s, 4 * s), QPointF(32 * s, 4 * s))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(QColor("#c62828")))
        p.drawPath(path)
        p.setBrush(QBrush(QColor(255, 255, 255, 150)))
        p.drawEllipse(QPointF(24 * s, 44 * s), 5 * s, 7 * s)
        p.end()
        icon.addPixmap(pm)
    return icon


_lock: QIcon | None = None


def lock_icon() -> QIcon:
    """A small padlock: the visit's reply is sent and it stays in its window."""
    global _lock
    if _lock is None:
        pm = QPixmap(14, 14)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        from PySide6.QtGui import QPen
        p.setPen(QPen(QColor("#6d4c00"), 1.6))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawArc(4, 1, 6, 8, 0, 180 * 16)
        p.drawLine(4, 5, 4, 7)
        p.drawLine(10, 5, 10, 7)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(QColor("#b8860b")))
        p.drawRoundedRect(2, 6, 10, 7, 1.5, 1.5)
        p.end()
        _lock = QIcon(pm)
    return _lock
