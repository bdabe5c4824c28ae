"""The central ECG view: smooth zoom, pan, fit, 1:1, and editing overlays.

`EcgView` shows one image. Zoom with the wheel, a pinch or +/-; pan by
dragging or with the scrollbars. For editing it can show a crop rectangle or a
four-corner quad with draggable handles; it reports the result in the shown
image's pixel coordinates and holds no image logic of its own.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QPainter,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGestureEvent,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsView,
    QPinchGesture,
    QWidget,
)

ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 0.02, 16.0
HANDLE_PX = 14
ACCENT = QColor(0, 120, 215)


class _Handle(QGraphicsEllipseItem):
    """A draggable corner handle that keeps its screen size at any zoom."""

    def __init__(self, overlay: _QuadOverlay, index: int) -> None:
        half = HANDLE_PX / 2
        super().__init__(-half, -half, HANDLE_PX, HANDLE_PX)
        self._overlay = overlay
        self._index = index
        self.setBrush(QBrush(QColor(255, 255, 255)))
        self.setPen(QPen(ACCENT, 2))
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCursor(Qt.CursorShape.SizeAllCursor)
        self.setZValue(10)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange:
            assert isinstance(value, QPointF)
            value = self._overlay.clamp(value)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self._overlay.handle_moved(self._index)
        return super().itemChange(change, value)


class _QuadOverlay:
    """Four handles joined by an outline; in rectangle mode they stay axis-aligned."""

    def __init__(self, scene: QGraphicsScene, bounds: QRectF, corners: list[QPointF], rect: bool):
        self.bounds = bounds
        self.rect_mode = rect
        self._busy = False
        self.outline = QGraphicsPolygonItem()
        self.outline.setPen(QPen(ACCENT, 0))
        self.outline.setBrush(QBrush(QColor(0, 120, 215, 28)))
        self.outline.setZValue(9)
        scene.addItem(self.outline)
        self.handles = [_Handle(self, i) for i in range(4)]
        for handle, corner in zip(self.handles, corners, strict=True):
            scene.addItem(handle)
            handle.setPos(corner)
        self._redraw()

    def clamp(self, point: QPointF) -> QPointF:
        x = min(max(point.x(), self.bounds.left()), self.bounds.right())
        y = min(max(point.y(), self.bounds.top()), self.bounds.bottom())
        return QPointF(x, y)

    def handle_moved(self, index: int) -> None:
        if self._busy:
            return
        if self.rect_mode:  # corners 0..3 = TL, TR, BR, BL: move the neighbours along
            self._busy = True
            moved = self.handles[index].pos()
            horizontal_pair = {0: 1, 1: 0, 2: 3, 3: 2}[index]
            vertical_pair = {0: 3, 3: 0, 1: 2, 2: 1}[index]
            other = self.handles[horizontal_pair]
            other.setPos(QPointF(other.pos().x(), moved.y()))
            other = self.handles[vertical_pair]
            other.setPos(QPointF(moved.x(), other.pos().y()))
            self._busy = False
        self._redraw()

    def _redraw(self) -> None:
        self.outline.setPolygon(QPolygonF([h.pos() for h in self.handles]))

    def points(self) -> list[tuple[float, float]]:
        return [(h.pos().x(), h.pos().y()) for h in self.handles]

    def remove(self, scene: QGraphicsScene) -> None:
        for item in [self.outline, *self.handles]:
            scene.removeItem(item)


class EcgView(QGraphicsView):
    """Zoomable, pannable image view with optional crop / corner editing."""

    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ecgView")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._pixmap)
        self._overlay: _QuadOverlay | None = None
        self._fit = True
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(self.palette().window())
        self.viewport().grabGesture(Qt.GestureType.PinchGesture)
        self.setAcceptDrops(False)  # drops are handled by the main window

    # -- content -----------------------------------------------------------
    def set_image(
        self, image: QImage, *, full_size: tuple[int, int] | None = None, keep_view: bool = False
    ) -> None:
        """Show `image`, standing for an image of `full_size` pixels (default: its own).

        A screen-sized copy of a large image is stretched over the full size, so
        zoom, 1:1 and the editing handles all speak in the full image's pixels.
        Fits it to the window unless `keep_view` and the user zoomed.
        """
        self.clear_editing()
        width, height = full_size or (image.width(), image.height())
        self._pixmap.setPixmap(QPixmap.fromImage(image))
        scale_x, scale_y = width / max(image.width(), 1), height / max(image.height(), 1)
        self._pixmap.setTransform(QTransform.fromScale(scale_x, scale_y))
        self._scene.setSceneRect(QRectF(0, 0, width, height))
        if not keep_view or self._fit:
            self.fit()

    def has_image(self) -> bool:
        return not self._pixmap.pixmap().isNull()

    def image_size(self) -> tuple[int, int]:
        """The size, in pixels, of the image shown (the full image, not its screen copy)."""
        rect = self._scene.sceneRect() if self.has_image() else QRectF()
        return round(rect.width()), round(rect.height())

    def shown_pixels(self) -> tuple[int, int]:
        """The size of the copy actually on screen (a screen-sized one for large images)."""
        size = self._pixmap.pixmap().size()
        return size.width(), size.height()

    # -- zoom ----------------------------------------------------------------
    def scale_factor(self) -> float:
        return float(self.transform().m11())

    def fit(self) -> None:
        """Fit the whole image in the window."""
        if self.has_image():
            self.fitInView(self._pixmap, Qt.AspectRatioMode.KeepAspectRatio)
            self._fit = True
            self.zoom_changed.emit(self.scale_factor())

    def actual_size(self) -> None:
        """One image pixel per screen pixel (1:1)."""
        self.resetTransform()
        self._fit = False
        self.zoom_changed.emit(1.0)

    def zoom_by(self, factor: float) -> None:
        target = min(max(self.scale_factor() * factor, MIN_SCALE), MAX_SCALE)
        step = target / self.scale_factor()
        self.scale(step, step)
        self._fit = False
        self.zoom_changed.emit(self.scale_factor())

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(ZOOM_STEP**steps)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif event.key() == Qt.Key.Key_Minus:
            self.zoom_out()
        else:
            super().keyPressEvent(event)

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Gesture and isinstance(event, QGestureEvent):
            pinch = event.gesture(Qt.GestureType.PinchGesture)
            if isinstance(pinch, QPinchGesture):
                self.zoom_by(pinch.scaleFactor())
                return True
        return super().viewportEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    # -- editing -------------------------------------------------------------
    def edit_rectangle(self, box: tuple[float, float, float, float]) -> None:
        """Show a crop rectangle (x0, y0, x1, y1) with four corner handles."""
        x0, y0, x1, y1 = box
        corners = [QPointF(x0, y0), QPointF(x1, y0), QPointF(x1, y1), QPointF(x0, y1)]
        self._start_overlay(corners, rect=True)

    def edit_quad(self, corners: list[tuple[float, float]]) -> None:
        """Show four free corners (TL, TR, BR, BL) for a perspective correction."""
        self._start_overlay([QPointF(x, y) for x, y in corners], rect=False)

    def _start_overlay(self, corners: list[QPointF], rect: bool) -> None:
        self.clear_editing()
        self._overlay = _QuadOverlay(self._scene, self._scene.sceneRect(), corners, rect)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)

    def editing(self) -> bool:
        return self._overlay is not None

    def edited_points(self) -> list[tuple[float, float]]:
        return self._overlay.points() if self._overlay else []

    def edited_box(self) -> tuple[float, float, float, float] | None:
        points = self.edited_points()
        if not points:
            return None
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return min(xs), min(ys), max(xs), max(ys)

    def move_handle(self, index: int, x: float, y: float) -> None:
        """Move one editing handle (what a drag does; used by tests and keyboard users)."""
        if self._overlay:
            self._overlay.handles[index].setPos(QPointF(x, y))

    def clear_editing(self) -> None:
        if self._overlay is not None:
            self._overlay.remove(self._scene)
            self._overlay = None
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
