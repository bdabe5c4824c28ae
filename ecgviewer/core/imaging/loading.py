"""Open an ECG image or cart PDF safely and return 8-bit RGB pixels.

Supported: PNG, JPEG, TIFF (multi-page), BMP, WebP and PDF. The format is
recognised from the file's content, not its name. EXIF orientation is applied.
Anything else (not an image, truncated, empty, over the pixel limit, an
encrypted or empty PDF, an unreadable path) raises `ImageError` with a message
a clinician can act on. The file is only ever opened for reading.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ecgviewer.core.errors import ImageError
from ecgviewer.core.imaging.pdf import PDF_DPI, render_pdf
from ecgviewer.core.imaging.pixelformat import to_rgb8

MAX_PIXELS = 100_000_000  # refuse larger images before decoding them (decompression bombs)
SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".pdf",
)  # fmt: skip
_PILLOW_FORMATS = ("PNG", "JPEG", "MPO", "TIFF", "BMP", "DIB", "WEBP")
_FORMAT_NAMES = {"MPO": "JPEG", "DIB": "BMP"}
_NOT_AN_ECG_HINT = "Open a PNG, JPEG, TIFF, BMP or WebP image, or a PDF exported by an ECG cart."


@dataclass(frozen=True)
class LoadedImage:
    """A decoded page: RGB pixels as the viewer shows them, and where they came from."""

    image: Image.Image  # 8-bit RGB, EXIF orientation applied; never modified afterwards
    path: Path
    page: int  # 0-based page (PDF) or frame (TIFF)
    page_count: int
    format: str  # "PNG", "JPEG", "TIFF", "BMP", "WEBP" or "PDF"


def supported_suffixes() -> tuple[str, ...]:
    """File-name suffixes for open dialogs (lower case, with the dot)."""
    return SUPPORTED_SUFFIXES


def load_image(
    path: Path, page: int | None = None, *, dpi: int = PDF_DPI, max_pixels: int = MAX_PIXELS
) -> LoadedImage:
    """Decode `path` (an image or a PDF); `page` is 0-based, None means the default page."""
    path = Path(path)
    head = _read_head(path)
    if b"%PDF-" in head:  # the PDF header may follow up to 1024 bytes of junk
        rendered = render_pdf(path, page, dpi, max_pixels)
        return LoadedImage(rendered.image, path, rendered.page, rendered.page_count, "PDF")
    return _load_raster(path, page, max_pixels)


def _read_head(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise ImageError(f"{path} is a folder, not an image file.", hint=_NOT_AN_ECG_HINT)
        with path.open("rb") as stream:
            head = stream.read(1024)
    except FileNotFoundError as exc:
        raise ImageError(f"The file {path} does not exist.") from exc
    except PermissionError as exc:
        raise ImageError(
            f"The file {path} cannot be read: permission denied.",
            hint="Copy it to a folder you can read, or ask for access.",
        ) from exc
    except OSError as exc:
        raise ImageError(f"The file {path} cannot be read ({exc.strerror or exc}).") from exc
    if not head:
        raise ImageError(f"The file {path.name} is empty (0 bytes).", hint=_NOT_AN_ECG_HINT)
    return head


def _load_raster(path: Path, page: int | None, max_pixels: int) -> LoadedImage:
    Image.init()  # register every plugin, then allow only the formats listed
    formats = [name for name in _PILLOW_FORMATS if name in Image.OPEN]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=formats) as opened:
                return _decode_frame(opened, path, page, max_pixels)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"{path.name} is not an image this app can open.", hint=_NOT_AN_ECG_HINT
        ) from exc
    except Image.DecompressionBombError as exc:
        raise _too_large(path, None, max_pixels) from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageError(
            f"{path.name} is damaged or incomplete and cannot be decoded.",
            hint="Scan or export the ECG again; if it was copied, copy it again.",
        ) from exc


def _decode_frame(
    opened: Image.Image, path: Path, page: int | None, max_pixels: int
) -> LoadedImage:
    count = int(getattr(opened, "n_frames", 1))
    index = 0 if page is None else page
    if not 0 <= index < count:
        raise ImageError(
            f"{path.name} has {count} page{'s' if count != 1 else ''}; "
            f"page {index + 1} does not exist."
        )
    if index:
        opened.seek(index)
    width, height = opened.size
    if width <= 0 or height <= 0:
        raise ImageError(f"{path.name} has no pixels (size {width}x{height}).")
    if width * height > max_pixels:
        raise _too_large(path, (width, height), max_pixels)
    opened.load()
    upright = ImageOps.exif_transpose(opened)
    name = _FORMAT_NAMES.get(str(opened.format), str(opened.format))
    return LoadedImage(to_rgb8(upright), path, index, count, name)


def _too_large(path: Path, size: tuple[int, int] | None, max_pixels: int) -> ImageError:
    detail = f" ({size[0]}x{size[1]} pixels)" if size else ""
    return ImageError(
        f"{path.name} is too large to open safely{detail}; "
        f"the limit is {max_pixels / 1e6:.0f} megapixels.",
        hint="Scan at 200-300 dpi or reduce the image size, then open it again.",
    )
