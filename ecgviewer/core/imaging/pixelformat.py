"""Turn any decoded Pillow image into 8-bit RGB, the one pixel format the app works in.

Scanners and phones write grayscale, 16-bit, palette, alpha and CMYK images.
Transparent areas are flattened onto white paper, 16-bit samples are scaled
(not clipped) to 8 bits, and CMYK goes through Pillow's conversion.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

_WIDE_GRAY = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
_ALPHA = frozenset({"RGBA", "LA", "La", "RGBa", "PA"})


def to_rgb8(image: Image.Image) -> Image.Image:
    """Return `image` as an 8-bit RGB image (a new object; the input is not changed)."""
    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode in _WIDE_GRAY:
        return Image.fromarray(_wide_gray_to_u8(image), "L").convert("RGB")
    if mode == "P":
        has_alpha = "transparency" in image.info
        return _flatten(image.convert("RGBA")) if has_alpha else image.convert("RGB")
    if mode in _ALPHA:
        return _flatten(image.convert("RGBA"))
    return image.convert("RGB")


def _wide_gray_to_u8(image: Image.Image) -> np.ndarray:
    """Scale 16-bit, 32-bit integer or float gray samples to 0..255."""
    values = np.asarray(image).astype(np.float64)
    if image.mode == "F":
        top = float(values.max()) if values.size else 1.0
        scale = 255.0 if top <= 1.0 else 255.0 / max(top, 1e-9)
    elif image.mode == "I" and values.size and values.max() <= 255:
        scale = 1.0  # 32-bit container holding 8-bit data
    else:
        scale = 255.0 / 65535.0
    return np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)


def _flatten(rgba: Image.Image) -> Image.Image:
    """Composite onto white: a transparent scan background is blank paper."""
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")
