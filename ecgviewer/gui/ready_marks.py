"""The case strip's "ready" mark: a small green dot on cases whose image is already read.

Interpret on such a case starts answering at once; on the others it first
reads the image (about 50 s with MedGemma-4B on two cores). The tooltip says
so in words, for those who do not see the colour.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QListWidgetItem

READY_TIP = "Image read - answers at once"
READY_COLOUR = QColor(46, 157, 72)
_PLAIN = Qt.ItemDataRole.UserRole + 17  # (plain icon, plain tooltip, marked icon)


def mark_ready(item: QListWidgetItem, ready: bool) -> None:
    """Show or clear the mark on one case strip item; its own icon and tooltip are kept."""
    plain = item.data(_PLAIN)
    if plain is None:
        plain = (item.icon(), item.toolTip(), with_dot(item.icon()))
        item.setData(_PLAIN, plain)
    icon, tip, marked = plain
    item.setIcon(marked if ready else icon)
    item.setToolTip(f"{tip}\n{READY_TIP}" if ready else tip)


def with_dot(icon: QIcon) -> QIcon:
    """`icon` with a green dot, white-ringed, in its top right corner."""
    sizes = icon.availableSizes()
    pixmap = icon.pixmap(sizes[0] if sizes else QSize(120, 90))
    radius = max(5.0, pixmap.width() / 22)
    marked = QPixmap(pixmap)
    painter = QPainter(marked)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("white"), 2.0))
    painter.setBrush(READY_COLOUR)
    centre = QPointF(marked.width() - radius - 3, radius + 3)
    painter.drawEllipse(centre, radius, radius)
    painter.end()
    return QIcon(marked)
