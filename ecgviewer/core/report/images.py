"""The ECG images of the report: prepared for print and fitted to the page.

The straightened ECG is embedded as a high-quality JPEG (quality 92, no
chroma subsampling) at the source's full resolution, downsampled only where
it would print at more than `PRINT_DPI` dots per inch: enough for any office
printer, and it keeps the file small enough to send by e-mail.
"""

from __future__ import annotations

from io import BytesIO

import numpy as np
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Flowable, Paragraph

from ecgviewer.core.report.markup import inline
from ecgviewer.core.report.pagesize import MM
from ecgviewer.core.report.styles import RULE, styles

PRINT_DPI = 300
JPEG_QUALITY = 92
CAPTION_HEIGHT = 9 * MM
MIN_CAPTION_WIDTH = 180 * MM  # keeps the caption to two lines under a narrow image


def print_mode(image: Image.Image) -> Image.Image:
    """The image as 8-bit RGB or grey, with any transparency flattened onto white paper."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("1",):
        return image.convert("L")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        return Image.fromarray(scaled.astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return image.convert("RGB")


def jpeg_for_print(
    image: Image.Image, box_pt: tuple[float, float]
) -> tuple[bytes, tuple[int, int]]:
    """Encode `image` to fit a `box_pt` (width, height in points) at up to `PRINT_DPI`.

    Returns the JPEG bytes and the pixel size embedded.
    """
    picture = print_mode(image)
    width, height = picture.size
    scale = min(box_pt[0] / width, box_pt[1] / height)  # points per pixel when fitted
    max_pixels = (width * scale / 72.0 * PRINT_DPI, height * scale / 72.0 * PRINT_DPI)
    if width > max_pixels[0]:
        size = (max(1, round(max_pixels[0])), max(1, round(max_pixels[1])))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    buffer = BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True)
    return buffer.getvalue(), picture.size


def thumbnail_jpeg(image: Image.Image, max_side: int = 900) -> bytes:
    """A small JPEG of `image` (the original scan on the details page)."""
    picture = print_mode(image).copy()
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


class FitImage(Flowable):
    """An image as large as the space left in the frame allows, with a caption below.

    When less than `min_height` is left, it asks for more than the frame has,
    so the frame moves it to the next page.
    """

    def __init__(self, jpeg: bytes, pixels: tuple[int, int], caption: str, min_height: float):
        super().__init__()
        self._reader = ImageReader(BytesIO(jpeg))
        self._pixels = pixels
        self._caption = caption
        self._min_height = min_height
        self.hAlign = "CENTER"
        self.image_size = (0.0, 0.0)
        self.width = 0.0
        self.height = 0.0

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        """Take the largest size that keeps the aspect ratio; leave room for the caption."""
        room = avail_height - CAPTION_HEIGHT
        scale = min(avail_width / self._pixels[0], room / self._pixels[1])
        if room < self._min_height or scale <= 0:
            return avail_width, self._min_height + CAPTION_HEIGHT
        self.image_size = (self._pixels[0] * scale, self._pixels[1] * scale)
        self.width = max(self.image_size[0], min(avail_width, MIN_CAPTION_WIDTH))
        self.height = self.image_size[1] + CAPTION_HEIGHT
        return self.width, self.height

    def printed_dpi(self) -> float:
        """Dots per inch of the embedded image at its printed size."""
        return self._pixels[0] / (self.image_size[0] / 72.0) if self.image_size[0] else 0.0

    def draw(self) -> None:
        """Draw the image with a hairline frame and the caption with its print facts."""
        canvas = self.canv
        width, height = self.image_size
        left = (self.width - width) / 2  # a narrow image is centred over its caption
        canvas.drawImage(self._reader, left, CAPTION_HEIGHT, width, height)
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.rect(left, CAPTION_HEIGHT, width, height, stroke=1, fill=0)
        canvas.restoreState()
        facts = (
            f" Printed {width / MM:.0f} × {height / MM:.0f} mm from "
            f"{self._pixels[0]} × {self._pixels[1]} px (about {self.printed_dpi():.0f} dpi)."
        )
        caption = Paragraph(inline(self._caption) + inline(facts), styles().caption)
        _, caption_height = caption.wrap(self.width, CAPTION_HEIGHT)
        caption.drawOn(canvas, 0, CAPTION_HEIGHT - 1.5 * MM - caption_height)
