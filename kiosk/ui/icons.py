"""Icons painted with QPainter (no emoji font is needed on the kiosk)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap

from kiosk.ui.theme import cjk_family


def _canvas(w: int, h: int) -> tuple[QPixmap, QPainter]:
    pm = QPixmap(w, h)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    return pm, p


def id_card_pixmap(width: int = 360, color: str = "#0b4f9c") -> QPixmap:
    """An ID card above a reader, with the contactless waves."""
    h = int(width * 0.78)
    pm, p = _canvas(width, h)
    card = QRectF(width * 0.12, h * 0.04, width * 0.76, h * 0.52)
    p.setPen(QPen(QColor(color), 5))
    p.setBrush(QColor("#eaf2fc"))
    p.drawRoundedRect(card, 18, 18)
    photo = QRectF(
        card.right() - card.width() * 0.32,
        card.top() + card.height() * 0.16,
        card.width() * 0.22,
        card.height() * 0.62,
    )
    p.setBrush(QColor("#c9d9ef"))
    p.drawRoundedRect(photo, 8, 8)
    p.setPen(QPen(QColor(color), 7))
    for i in range(4):
        y = card.top() + card.height() * (0.24 + 0.18 * i)
        p.drawLine(
            QPointF(card.left() + card.width() * 0.1, y),
            QPointF(card.left() + card.width() * (0.55 - 0.08 * (i % 2)), y),
        )
    # the reader and its field
    reader = QRectF(width * 0.05, h * 0.80, width * 0.90, h * 0.16)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#33475b"))
    p.drawRoundedRect(reader, 14, 14)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(QColor("#0a7d3b"), 5))
    for i in range(3):
        r = 18 + i * 16
        p.drawArc(QRectF(width / 2 - r, h * 0.70 - r / 2, 2 * r, r), 30 * 16, 120 * 16)
    p.end()
    return pm


def face_pixmap(level: int, size: int = 120, color: str = "#ffffff") -> QPixmap:
    """A face per level, each drawn differently (not only its mouth): 5 laughs with closed, happy
    eyes, an open mouth and rosy cheeks; 4 smiles; 3 is straight; 2 frowns; 1 frowns with sad brows."""
    pm, p = _canvas(size, size)
    ink = QColor(color)
    line = max(3, size // 18)
    p.setPen(QPen(ink, line, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.setBrush(Qt.BrushStyle.NoBrush)
    m = size * 0.08
    p.drawEllipse(QRectF(m, m, size - 2 * m, size - 2 * m))
    er = size * 0.06
    if level == 5:
        # Laughing: eyes shut in two arches, cheeks, a wide open mouth.
        for cx in (0.36, 0.64):
            p.drawArc(QRectF(size * (cx - 0.08), size * 0.34, size * 0.16, size * 0.14), 0, 180 * 16)
        p.setPen(Qt.PenStyle.NoPen)
        blush = QColor("#ff9eb0")
        blush.setAlpha(200)
        p.setBrush(blush)
        for cx in (0.26, 0.74):
            p.drawEllipse(QPointF(size * cx, size * 0.56), size * 0.07, size * 0.045)
        mouth = QPainterPath(QPointF(size * 0.28, size * 0.60))
        mouth.cubicTo(
            QPointF(size * 0.30, size * 0.86),
            QPointF(size * 0.70, size * 0.86),
            QPointF(size * 0.72, size * 0.60),
        )
        mouth.closeSubpath()
        p.setBrush(ink)
        p.drawPath(mouth)
        p.end()
        return pm
    p.setBrush(ink)
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(QPointF(size * 0.36, size * 0.40), er, er)
    p.drawEllipse(QPointF(size * 0.64, size * 0.40), er, er)
    p.setPen(QPen(ink, line, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.setBrush(Qt.BrushStyle.NoBrush)
    if level == 1:
        # Sad brows, raised at the middle.
        p.drawLine(QPointF(size * 0.26, size * 0.30), QPointF(size * 0.42, size * 0.25))
        p.drawLine(QPointF(size * 0.58, size * 0.25), QPointF(size * 0.74, size * 0.30))
    curve = {4: 0.16, 3: 0.0, 2: -0.10, 1: -0.18}[level]
    y = size * (0.64 if curve >= 0 else 0.74)
    path = QPainterPath(QPointF(size * 0.32, y))
    path.quadTo(QPointF(size * 0.5, y + curve * size * 1.4), QPointF(size * 0.68, y))
    p.drawPath(path)
    p.end()
    return pm


def face_icon(level: int, size: int = 120) -> QIcon:
    """face_pixmap as an icon for a button."""
    return QIcon(face_pixmap(level, size))


def person_pixmap(size: int = 200, color: str = "#0b4f9c") -> QPixmap:
    """A head-and-shoulders silhouette for the clerk on duty."""
    pm, p = _canvas(size, size)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#dbe7f5"))
    p.drawEllipse(QRectF(0, 0, size, size))
    p.setBrush(QColor(color))
    p.drawEllipse(QPointF(size / 2, size * 0.38), size * 0.17, size * 0.17)
    body = QPainterPath()
    body.addEllipse(QRectF(size * 0.2, size * 0.60, size * 0.6, size * 0.55))
    clip = QPainterPath()
    clip.addEllipse(QRectF(0, 0, size, size))
    p.drawPath(body.intersected(clip))
    p.end()
    return pm


def badge_pixmap(text: str, size: int = 56, bg: str = "#c8102e") -> QPixmap:
    """A round badge with one or two characters (e.g. 公告)."""
    pm, p = _canvas(size * len(text), size)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(bg))
    p.drawRoundedRect(QRectF(0, 0, size * len(text), size), size / 4, size / 4)
    f = QFont(cjk_family())
    f.setPixelSize(int(size * 0.6))
    f.setBold(True)
    p.setFont(f)
    p.setPen(QColor("#ffffff"))
    p.drawText(QRectF(0, 0, size * len(text), size), Qt.AlignmentFlag.AlignCenter, text)
    p.end()
    return pm
