"""The model-input preview is exactly what is sent: 896 x 896, stretched like training."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from ecgviewer.core.imaging.grid import grid_pitch, has_ecg_grid
from ecgviewer.core.imaging.model_input import (
    MODEL_INPUT_SIZE,
    letterboxed_image,
    model_input_image,
)
from ecgviewer.core.workspace import png_bytes


def test_size_and_mode(page: Image.Image) -> None:
    image = model_input_image(page)
    assert MODEL_INPUT_SIZE == 896
    assert image.size == (896, 896) and image.mode == "RGB"


def test_stretch_uses_the_training_resampling(page: Image.Image) -> None:
    expected = page.resize((896, 896), Image.Resampling.BILINEAR)
    assert np.array_equal(np.asarray(model_input_image(page)), np.asarray(expected))


def test_square_input_passes_unchanged() -> None:
    square = Image.fromarray(
        np.random.default_rng(1).integers(0, 255, (896, 896, 3), dtype=np.uint8)
    )
    assert np.array_equal(np.asarray(model_input_image(square)), np.asarray(square))


def test_png_bytes_decode_to_the_preview(page: Image.Image) -> None:
    decoded = Image.open(io.BytesIO(png_bytes(model_input_image(page))))  # what is sent
    assert decoded.format == "PNG"
    assert np.array_equal(np.asarray(decoded.convert("RGB")), np.asarray(model_input_image(page)))


def test_letterbox_for_comparison_pads_with_black(page: Image.Image) -> None:
    boxed = np.asarray(letterboxed_image(page))
    assert boxed.shape == (896, 896, 3)
    band = (896 - round(896 * page.height / page.width)) // 2
    assert boxed[: band - 1].max() == 0 and boxed[-band + 1 :].max() == 0
    assert boxed[448].mean() > 150


def test_stretch_keeps_more_vertical_resolution_than_letterbox(page: Image.Image) -> None:
    """The measured reason for stretching (docs/preprocessing.md): same px/mm across the
    time axis, about 29 % more px/mm along the voltage axis for a landscape Letter page."""
    stretched = grid_pitch(cv2.cvtColor(np.asarray(model_input_image(page)), cv2.COLOR_RGB2GRAY))
    boxed = grid_pitch(cv2.cvtColor(np.asarray(letterboxed_image(page)), cv2.COLOR_RGB2GRAY))
    assert stretched is not None and boxed is not None
    assert stretched.x_px == pytest.approx(boxed.x_px, rel=0.03)
    assert stretched.y_px / boxed.y_px == pytest.approx(page.width / page.height, rel=0.03)


def test_grid_detection_on_the_page(page: Image.Image) -> None:
    gray = cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, None, fx=72 / 127, fy=72 / 127, interpolation=cv2.INTER_AREA)
    assert has_ecg_grid(small)
    blank = np.full_like(small, 255)
    assert not has_ecg_grid(blank)
