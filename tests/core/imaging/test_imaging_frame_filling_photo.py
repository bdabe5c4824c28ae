"""A tilted sheet that fills the photo: its corners touch the frame, the background shows
only as wedges along its sides (PIL `rotate(angle, expand=True, fillcolor=...)`).

Deskewing such a photo uncovers corners that a rotation has to make up; they are
painted in the paper colour. The crop must not take them for paper, or it keeps
the background wedges (the bug this guards against: at -8 degrees, or with a
light-gray background, the output kept up to half its area as background).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from ecgviewer.core.imaging.geometry import coverage, rotation, translation, warp
from ecgviewer.core.imaging.paper import estimate_paper
from ecgviewer.core.imaging.pipeline import auto_preprocess
from ecgviewer.core.imaging.sheet import sheet_box
from ecgviewer.core.imaging.synthetic import render

MAX_EDGE_DEG, MIN_KEPT, MAX_BACKGROUND = 0.5, 0.97, 0.05
CORNER_SLACK_PX = 3.0
DARK, DARK_BROWN, LIGHT_GRAY = (60, 60, 60), (90, 84, 78), (200, 200, 200)


def tilted(sheet: Image.Image, angle: float, fill: tuple[int, int, int]) -> Any:
    """`sheet` turned by PIL (`angle` degrees counter-clockwise on screen, canvas expanded
    to hold it), and the sheet's outer corners (TL, TR, BR, BL) in the new image.

    PIL turns about the centre (w/2, h/2) in pixel-edge coordinates and puts it at the
    centre of the expanded canvas; our coordinates have pixel centres at integers."""
    width, height = sheet.size
    image = sheet.rotate(angle, expand=True, fillcolor=fill)
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    edges = np.array([(0, 0), (width, 0), (width, height), (0, height)], dtype=np.float64)
    x, y = (edges - (width / 2, height / 2)).T
    turned = np.column_stack([x * cos + y * sin, -x * sin + y * cos])  # y points down
    centre = np.array([image.width / 2 - 0.5, image.height / 2 - 0.5])
    return image, turned + centre


def _check(
    image: Image.Image, corners: np.ndarray, measure: Callable[..., Any]
) -> tuple[Any, list[dict[str, Any]]]:
    ecg = auto_preprocess(image)
    found = measure(ecg.transform, corners, ecg.output_size)
    steps = ecg.steps_json()
    width, height = ecg.output_size
    mapped = ecg.map_to_result(corners)
    assert (mapped >= -0.5 - CORNER_SLACK_PX).all(), (mapped, steps)
    assert (mapped <= np.array([width, height]) - 0.5 + CORNER_SLACK_PX).all(), (mapped, steps)
    assert found.edge_deg <= MAX_EDGE_DEG, (found, steps)
    assert found.kept >= MIN_KEPT, (found, steps)
    assert found.background <= MAX_BACKGROUND, (found, steps)
    assert ecg.notes == ()  # the sheet was found: deskewed and cropped, nothing to warn about
    return found, steps


@pytest.mark.parametrize("fill", [DARK, LIGHT_GRAY], ids=["dark", "light-gray"])
@pytest.mark.parametrize("angle", [5.0, -8.0, 12.0, -15.0])
def test_tilted_sheet_touching_the_frame_comes_out_whole_and_alone(
    page: Image.Image,
    measure: Callable[..., Any],
    angle: float,
    fill: tuple[int, int, int],
) -> None:
    image, corners = tilted(page, angle, fill)
    _check(image, corners, measure)


@pytest.mark.parametrize(("angle", "fill"), [(5.0, DARK_BROWN), (-8.0, DARK)])
def test_the_reported_photos(
    measure: Callable[..., Any], angle: float, fill: tuple[int, int, int]
) -> None:
    # exactly the bug report's construction; note that render(width_px=1800) keeps 200 dpi,
    # so the synthetic sheet itself is clipped on the right and at the bottom
    image, corners = tilted(render(width_px=1800).image, angle, fill)
    _, steps = _check(image, corners, measure)
    assert [step["op"] for step in steps] == ["deskew", "crop"], steps
    assert steps[0]["angle_deg"] == pytest.approx(-angle, abs=0.05)


def test_corners_made_up_by_a_rotation_are_neither_paper_nor_background() -> None:
    # a deskewed frame-filling photo: sheet in the middle, a dark wedge left of it (what the
    # photo showed), and beyond the wedge a paper-coloured area no photo pixel reached
    paper_rgb = (250, 246, 244)
    height, width = 300, 400
    closed = np.full((height, width, 3), paper_rgb, dtype=np.uint8)
    observed = np.ones((height, width), dtype=bool)
    for y in range(height):
        wedge_start = 60 - round(0.15 * (height - y))  # the photo's tilted left edge
        closed[y, max(0, wedge_start) : 60] = DARK
        observed[y, : max(0, wedge_start)] = False
    paper = estimate_paper(closed)
    assert sheet_box(closed, paper) is None  # the made-up area passes for paper
    box = sheet_box(closed, paper, observed)
    assert box is not None and box[0] == pytest.approx(60, abs=2), box
    assert box[1:] == (0, width, height)


@pytest.mark.parametrize("angle", [-9.0, 4.0])
def test_a_turned_scan_with_paper_to_its_edges_is_not_cropped(
    page: Image.Image, angle: float
) -> None:
    # the inside of a page, with the thin dark line a scanner leaves along its edges
    pixels = np.array(page)[100:-100, 80:-80]
    pixels[:2], pixels[-2:], pixels[:, :2], pixels[:, -2:] = 40, 40, 40, 40
    matrix, size = rotation((pixels.shape[1], pixels.shape[0]), -angle)
    scan = Image.fromarray(warp(pixels, matrix, size, (255, 255, 255)))
    ecg = auto_preprocess(scan)
    assert "crop" not in [step.op for step in ecg.steps], ecg.steps_json()


def test_coverage_marks_what_a_warp_takes_from_its_source() -> None:
    assert coverage((40, 30), np.eye(3), (40, 30)).all()
    shifted = coverage((40, 30), translation(5, -3), (40, 30))
    assert shifted.sum() == 35 * 27 and shifted[0:27, 5:40].all()
    matrix, size = rotation((200, 100), 10.0)
    turned = coverage((200, 100), matrix, size)
    assert turned.shape == (size[1], size[0])
    assert not turned[0, 0] and turned[size[1] // 2, size[0] // 2]
    inside = cv2.warpAffine(np.full((100, 200), 255, np.uint8), matrix[:2], size)
    assert turned.sum() == pytest.approx(200 * 100, rel=0.03)
    assert (inside[turned] == 255).all()
