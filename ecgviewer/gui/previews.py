"""Screen-sized images of a case, prepared off the GUI thread.

A 48-megapixel phone photo converted to a QImage on the GUI thread stalls the
window for half a second, so the window never does it: whenever a case is
opened or edited, the background job that produced it also makes `Previews`,
QImages no larger than a screen (QImage, unlike QPixmap, may be made on any
thread). The view shows them scaled up to the image's full size, so editing
handles still speak in the image's own pixels.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.qtimage import to_qimage

SCREEN_PX = 2560  # longest side of a prepared view: a large monitor, fitted
THUMBNAIL_PX = 220  # the case strip's icons are at most 110 px, twice that for sharpness


@dataclass(frozen=True)
class Preview:
    """One view's image at screen size, and the size of the image it stands for."""

    image: QImage
    full_size: tuple[int, int]
    thread: str  # the thread that made it (the window shows only previews made off its thread)


@dataclass(frozen=True)
class Previews:
    """The original, the straightened result and the model input of one case, and its icon."""

    views: tuple[Preview, Preview, Preview]
    thumbnail: QImage


def reduced(image: Image.Image, limit: int) -> Image.Image:
    """`image` if it fits `limit` x `limit`, else a smaller copy that does."""
    if max(image.size) <= limit:
        return image
    small = image.copy()
    small.thumbnail((limit, limit), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return small


def preview(image: Image.Image, limit: int = SCREEN_PX) -> Preview:
    """`image` reduced to fit `limit` x `limit` as a QImage (any thread; pool thread in use)."""
    qimage = to_qimage(reduced(image, limit)).convertToFormat(QImage.Format.Format_RGB32)
    return Preview(qimage, image.size, threading.current_thread().name)  # RGB32: as pixmaps are


def prepare_previews(case: OpenCase) -> Previews:
    """The three views and the icon of `case`, and the model input encoded (pool thread)."""
    case.model_png()
    original = preview(case.original)
    views = (original, preview(case.result), preview(case.model_input()))
    icon = original.image.scaled(THUMBNAIL_PX, THUMBNAIL_PX, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)  # fmt: skip
    return Previews(views, icon)


def with_previews(case: OpenCase) -> tuple[OpenCase, Previews]:
    """`case` and its previews (pool thread): what opening and editing deliver to the window."""
    return case, prepare_previews(case)
