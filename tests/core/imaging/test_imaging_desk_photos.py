"""Real phone photos of printed ECGs lying on a desk, a table or cloth (tests/data/photos).

The sheet's outline is visible on every side, though corners may fall outside the frame.
Truth: hand-labelled corners (corners.json). Measured through the result's `transform`,
whatever the output's orientation (p2p_03769 is turned 90 degrees; which way up it ends is
the orientation step's business, not the sheet finder's):

- skew: the grid angle on the result (deskew.estimate_skew), and how far the mapped sheet's
  edges are from the image axes;
- coverage: the share of the sheet (as far as the photo shows it) that the output keeps;
- non-paper: the share of the output that is not sheet.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ecgviewer.core.imaging.deskew import estimate_skew
from ecgviewer.core.imaging.ecgimage import EcgImage
from ecgviewer.core.imaging.geometry import map_points
from ecgviewer.core.imaging.pipeline import auto_preprocess

PHOTOS = Path(__file__).resolve().parents[2] / "data" / "photos"
LABELS = json.loads((PHOTOS / "corners.json").read_text(encoding="utf-8"))
NAMES = sorted(key.split("/")[-1] for key in LABELS)

MAX_GRID_SKEW_DEG = 1.0
# labelled corners of curled tips and off-frame corners are a few pixels off the fitted
# edges, so the edges' angle is held to a looser bound than the grid's
MAX_EDGE_SKEW_DEG = 2.0
MIN_COVERAGE = 0.97
MAX_NON_PAPER = 0.05
# p2p_00012: the bottom edge leaves the frame after a quarter of its length, so its angle is
# fitted from a short, curled stretch; the bottom-right corner ends about 60 px (of 816)
# above the labelled one and wood shows in two slivers (7.7 % of the output)
SHORT_BOTTOM_EDGE = {"p2p_00012_wood_desk_perspective.jpg"}


def _area(polygon: np.ndarray) -> float:
    return abs(float(cv2.contourArea(polygon.astype(np.float32)))) if len(polygon) >= 3 else 0.0


def _clip_to_frame(polygon: np.ndarray, width: int, height: int) -> np.ndarray:
    """A convex polygon intersected with the rectangle of a width x height image."""
    frame = np.array(
        [[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]],
        dtype=np.float32,
    )
    area, inter = cv2.intersectConvexConvex(polygon.astype(np.float32), frame)
    return np.zeros((0, 2)) if inter is None or area <= 0 else inter.reshape(-1, 2)


def coverage(ecg: EcgImage, corners: np.ndarray) -> float:
    """Share of the sheet seen in the photo that lies inside the output."""
    seen = map_points(ecg.transform, _clip_to_frame(corners, *ecg.original.size))
    return _area(_clip_to_frame(seen, *ecg.output_size)) / _area(seen)


def non_paper(ecg: EcgImage, corners: np.ndarray) -> float:
    """Share of the output outside the sheet."""
    width, height = ecg.output_size
    sheet = _clip_to_frame(map_points(ecg.transform, corners), width, height)
    return 1.0 - _area(sheet) / (width * height)


def edge_skew_deg(ecg: EcgImage, corners: np.ndarray) -> float:
    """The largest angle between a mapped sheet edge and the nearest image axis (the same
    whichever corner comes first)."""
    mapped = map_points(ecg.transform, corners)
    worst = 0.0
    for i in range(4):
        dx, dy = mapped[(i + 1) % 4] - mapped[i]
        angle = float(np.degrees(np.arctan2(dy, dx))) % 90.0
        worst = max(worst, min(angle, 90.0 - angle))
    return worst


def grid_skew_deg(ecg: EcgImage) -> float:
    skew = estimate_skew(cv2.cvtColor(np.asarray(ecg.result), cv2.COLOR_RGB2GRAY))
    assert skew is not None
    return abs(skew.angle_deg)


def _photo(name: str) -> tuple[EcgImage, np.ndarray]:
    with Image.open(PHOTOS / name) as image:
        original = image.convert("RGB")
    return auto_preprocess(original), np.asarray(LABELS[f"photos/{name}"]["corners"], float)


def test_the_metrics_ignore_which_corner_comes_first() -> None:
    ecg, corners = _photo("p2p_03769_wood_desk_portrait.jpg")
    turned = np.roll(corners, 1, axis=0)
    assert coverage(ecg, turned) == pytest.approx(coverage(ecg, corners))
    assert non_paper(ecg, turned) == pytest.approx(non_paper(ecg, corners))
    assert edge_skew_deg(ecg, turned) == pytest.approx(edge_skew_deg(ecg, corners))


@pytest.mark.parametrize("name", NAMES)
def test_the_sheet_is_flattened_and_cut_out(name: str) -> None:
    ecg, corners = _photo(name)
    steps = ecg.steps_json()
    assert steps[0]["op"] == "perspective", steps
    assert steps[0]["crops_to_sheet"] is True
    assert grid_skew_deg(ecg) <= MAX_GRID_SKEW_DEG
    if name in SHORT_BOTTOM_EDGE:
        pytest.xfail("bottom edge mostly outside the frame: its fitted angle is off")
    assert edge_skew_deg(ecg, corners) <= MAX_EDGE_SKEW_DEG, steps
    assert coverage(ecg, corners) >= MIN_COVERAGE, steps
    assert non_paper(ecg, corners) <= MAX_NON_PAPER, steps
