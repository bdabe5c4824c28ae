"""Homographies, exact copies and the flattened sheet's aspect ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecgviewer.core.imaging.geometry import (
    homography_from_points,
    map_points,
    quad_to_rectangle,
    quarter_turns,
    rectified_size,
    rotation,
    warp,
)


def _image(width: int = 7, height: int = 5) -> np.ndarray:
    values = np.arange(width * height * 3, dtype=np.uint8).reshape(height, width, 3)
    return values


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_quarter_turns_are_exact_and_match_numpy(turns: int) -> None:
    pixels = _image()
    matrix, size = quarter_turns((7, 5), turns)
    out = warp(pixels, matrix, size, (0, 0, 0))
    assert np.array_equal(out, np.rot90(pixels, -turns))  # clockwise on screen


def test_quarter_turn_maps_corners_clockwise() -> None:
    matrix, size = quarter_turns((7, 5), 1)
    assert size == (5, 7)
    top_left, top_right = map_points(matrix, [(0, 0), (6, 0)])
    assert top_left.tolist() == pytest.approx([4, 0])  # the top-left goes to the top-right
    assert top_right.tolist() == pytest.approx([4, 6])


def test_crop_by_translation_is_an_exact_slice() -> None:
    pixels = _image(20, 10)
    matrix = np.array([[1.0, 0, -3], [0, 1, -2], [0, 0, 1]])
    out = warp(pixels, matrix, (5, 4), (9, 9, 9))
    assert np.array_equal(out, pixels[2:6, 3:8])


def test_crop_beyond_the_image_is_filled() -> None:
    pixels = _image(4, 4)
    matrix = np.array([[1.0, 0, 2], [0, 1, 0], [0, 0, 1]])
    out = warp(pixels, matrix, (6, 4), (9, 8, 7))
    assert out[0, 0].tolist() == [9, 8, 7]
    assert np.array_equal(out[:, 2:], pixels)


def test_rotation_convention_positive_is_counter_clockwise_correction() -> None:
    # a line drawn clockwise-tilted by 10 degrees becomes horizontal after rotation(10)
    matrix, _ = rotation((1000, 800), 10.0)
    a = math.radians(10)
    start, end = map_points(
        matrix, [(100, 100), (100 + 500 * math.cos(a), 100 + 500 * math.sin(a))]
    )
    assert end[1] - start[1] == pytest.approx(0.0, abs=1e-9)
    assert end[0] > start[0]


def test_rotation_keeps_every_pixel() -> None:
    matrix, (width, height) = rotation((400, 300), 20.0)
    corners = map_points(matrix, [(-0.5, -0.5), (399.5, -0.5), (399.5, 299.5), (-0.5, 299.5)])
    assert corners[:, 0].min() >= -0.5 - 1e-6 and corners[:, 0].max() <= width - 0.5 + 1e-6
    assert corners[:, 1].min() >= -0.5 - 1e-6 and corners[:, 1].max() <= height - 0.5 + 1e-6


def test_homography_from_points_is_exact() -> None:
    source = [(10.0, 20.0), (300.0, 40.0), (280.0, 260.0), (5.0, 230.0)]
    target = [(0.0, 0.0), (100.0, 0.0), (100.0, 80.0), (0.0, 80.0)]
    matrix = homography_from_points(source, target)
    assert map_points(matrix, source) == pytest.approx(np.array(target), abs=1e-9)


def test_quad_to_rectangle_maps_corners_to_outer_pixel_edges() -> None:
    corners = [(12.0, 8.0), (90.0, 11.0), (88.0, 70.0), (10.0, 66.0)]
    matrix = quad_to_rectangle(corners, (50, 40))
    expected = [(-0.5, -0.5), (49.5, -0.5), (49.5, 39.5), (-0.5, 39.5)]
    assert map_points(matrix, corners) == pytest.approx(np.array(expected), abs=1e-9)


def _project(
    roll: float, pitch: float, yaw: float, focal: float, frame: tuple[int, int]
) -> list[tuple[float, float]]:
    width, height = 1100.0, 850.0  # a US Letter sheet
    r, p, y = (math.radians(v) for v in (roll, pitch, yaw))
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    plane = np.array(
        [
            (-width / 2, -height / 2, 0),
            (width / 2, -height / 2, 0),
            (width / 2, height / 2, 0),
            (-width / 2, height / 2, 0),
        ]
    )
    camera = plane @ (rz @ rx @ ry).T + np.array([0, 0, 2.2 * focal])
    centre = np.array([(frame[0] - 1) / 2, (frame[1] - 1) / 2])
    points = focal * camera[:, :2] / camera[:, 2:3] + centre
    return [(float(x), float(y)) for x, y in points]


@pytest.mark.parametrize(
    ("roll", "pitch", "yaw"), [(0, 0, 0), (10, 25, -20), (-5, -30, 15), (3, 12, 30)]
)
def test_aspect_ratio_of_a_photographed_sheet(roll: float, pitch: float, yaw: float) -> None:
    frame = (3000, 2200)
    corners = _project(roll, pitch, yaw, 2600.0, frame)
    (width, height), ratio = rectified_size(corners, frame)
    assert ratio == pytest.approx(11 / 8.5, rel=0.01)
    assert width / height == pytest.approx(11 / 8.5, rel=0.01)
