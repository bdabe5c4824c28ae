"""Optional contrast normalisation for faint or low-contrast scans.

Contrast-limited adaptive histogram equalisation (CLAHE) of the lightness
channel only, so the grid keeps its hue. Off by default: it changes pixel
values, and the model was trained on ordinary scans. When used it is recorded
as a step with its parameters and re-applied identically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

METHOD = "clahe"
DEFAULT_PARAMS: dict[str, Any] = {"method": METHOD, "clip_limit": 2.0, "tiles": 8}


def normalise_contrast(pixels: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """Apply CLAHE (clip_limit, tiles x tiles) to the L channel of RGB `pixels`."""
    clip_limit = float(params.get("clip_limit", DEFAULT_PARAMS["clip_limit"]))
    tiles = int(params.get("tiles", DEFAULT_PARAMS["tiles"]))
    lab = cv2.cvtColor(pixels, cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles))
    lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
