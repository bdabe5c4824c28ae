"""Conversions between Pillow images and Qt images (GUI side only)."""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def to_qimage(image: Image.Image) -> QImage:
    """An independent QImage copy of an RGB Pillow image."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    data = rgb.tobytes()
    qimage = QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888)
    return qimage.copy()  # detach from `data`, which Python may free


def thumbnail(image: QImage, size: int) -> QPixmap:
    """A smooth thumbnail no larger than `size` x `size` of a small, prepared image (GUI thread)."""
    return QPixmap.fromImage(image).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
