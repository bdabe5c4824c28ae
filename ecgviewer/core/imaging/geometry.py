"""Plane geometry for the preprocessing steps: 3x3 homographies and one warp.

Coordinates are pixel coordinates with x to the right and y down; integer
values are pixel centres, so an image of width w spans [-0.5, w - 0.5].
Every geometric step is a homography from its input to its output; the steps
compose into one matrix, and the original is resampled once.

Angle convention (also the CLI's): a positive angle means the content appeared
rotated clockwise on screen and is corrected by turning it counter-clockwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

Size = tuple[int, int]  # (width, height)
Point = tuple[float, float]

KNOWN_PAPER_ASPECTS = (11 / 8.5, math.sqrt(2))  # US Letter and A4 (ISO 216), landscape
ASPECT_SNAP = 0.03


def translation(dx: float, dy: float) -> np.ndarray:
    """The homography that moves every point by (dx, dy)."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def rotation(size: Size, angle_deg: float) -> tuple[np.ndarray, Size]:
    """Turn an image of `size` counter-clockwise by `angle_deg` on a canvas keeping every pixel."""
    width, height = size
    a = math.radians(angle_deg)
    cos, sin = math.cos(a), math.sin(a)
    new_w = max(1, math.ceil(width * abs(cos) + height * abs(sin) - 1e-6))
    new_h = max(1, math.ceil(width * abs(sin) + height * abs(cos) - 1e-6))
    turn = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
    to_origin = translation(-(width - 1) / 2, -(height - 1) / 2)
    to_centre = translation((new_w - 1) / 2, (new_h - 1) / 2)
    return to_centre @ turn @ to_origin, (new_w, new_h)


def quarter_turns(size: Size, turns_cw: int) -> tuple[np.ndarray, Size]:
    """Turn an image of `size` clockwise by `turns_cw` x 90 degrees (exactly, no resampling)."""
    width, height = size
    turns = turns_cw % 4
    if turns == 0:
        return np.eye(3), size
    if turns == 1:
        return np.array([[0.0, -1.0, height - 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), (
            height,
            width,
        )
    if turns == 2:
        return np.array(
            [[-1.0, 0.0, width - 1.0], [0.0, -1.0, height - 1.0], [0.0, 0.0, 1.0]]
        ), size
    return np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, width - 1.0], [0.0, 0.0, 1.0]]), (height, width)


def quad_to_rectangle(corners: Sequence[Point], size: Size) -> np.ndarray:
    """The homography taking corners (top-left, top-right, bottom-right, bottom-left) to the
    outer corners of an image of `size`."""
    width, height = size
    target = [(-0.5, -0.5), (width - 0.5, -0.5), (width - 0.5, height - 0.5), (-0.5, height - 0.5)]
    return homography_from_points(corners, target)


def homography_from_points(source: Sequence[Point], target: Sequence[Point]) -> np.ndarray:
    """The exact homography mapping four source points to four target points (float64)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y])
        rhs.extend([u, v])
    solution = np.linalg.solve(np.array(rows), np.array(rhs))
    return np.append(solution, 1.0).reshape(3, 3)


def map_points(matrix: np.ndarray, points: np.ndarray | Sequence[Point]) -> np.ndarray:
    """Apply a homography to an (N, 2) array of points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    homogeneous = np.hstack([pts, np.ones((pts.shape[0], 1))]) @ np.asarray(matrix).T
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def normalised(matrix: np.ndarray) -> np.ndarray:
    """Scale a homography so that its bottom-right entry is 1."""
    return np.asarray(matrix, dtype=np.float64) / float(matrix[2, 2])


def rectified_size(corners: Sequence[Point], image_size: Size) -> tuple[Size, float]:
    """Output size and width/height ratio for a photographed sheet with these corners.

    The aspect ratio comes from the quadrilateral and an estimated focal length
    (Zhang and He, whiteboard rectification, principal point at the image
    centre); it snaps to US Letter or A4 when within 3 %. The size keeps the
    sheet's pixel density.
    """
    tl, tr, br, bl = (np.asarray(c, dtype=np.float64) for c in corners)
    ratio = _snap_aspect(_aspect_ratio((tl, tr, bl, br), image_size))
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    area = width * height
    return (max(1, round(math.sqrt(area * ratio))), max(1, round(math.sqrt(area / ratio)))), ratio


def _aspect_ratio(quad: tuple[np.ndarray, ...], image_size: Size) -> float:
    centre = np.array([(image_size[0] - 1) / 2, (image_size[1] - 1) / 2])
    m1, m2, m3, m4 = (np.append(p - centre, 1.0) for p in quad)  # TL, TR, BL, BR
    k2 = np.dot(np.cross(m1, m4), m3) / np.dot(np.cross(m2, m4), m3)
    k3 = np.dot(np.cross(m1, m4), m2) / np.dot(np.cross(m3, m4), m2)
    n2, n3 = k2 * m2 - m1, k3 * m3 - m1
    diagonal = math.hypot(*image_size)
    focal_sq = (0.9 * diagonal) ** 2  # a typical phone camera, when the quad cannot tell
    if _both_vanishing_points_finite((m1, m2, m3, m4), diagonal):
        estimate = -(n2[0] * n3[0] + n2[1] * n3[1]) / (n2[2] * n3[2])
        if (0.25 * diagonal) ** 2 <= estimate <= (4 * diagonal) ** 2:
            focal_sq = estimate
    top = (n2[0] ** 2 + n2[1] ** 2) / focal_sq + n2[2] ** 2
    side = (n3[0] ** 2 + n3[1] ** 2) / focal_sq + n3[2] ** 2
    return float(math.sqrt(top / side))


def _both_vanishing_points_finite(points: tuple[np.ndarray, ...], diagonal: float) -> bool:
    """The focal length is measurable only when both pairs of opposite sides converge
    visibly (vanishing points within 10 image diagonals)."""
    m1, m2, m3, m4 = points
    for a, b, c, d in ((m1, m2, m3, m4), (m1, m3, m2, m4)):
        vanishing = np.cross(np.cross(a, b), np.cross(c, d))
        if abs(vanishing[2]) * 10 * diagonal < math.hypot(vanishing[0], vanishing[1]):
            return False
    return True


def _snap_aspect(ratio: float) -> float:
    for known in KNOWN_PAPER_ASPECTS:
        for candidate in (known, 1 / known):
            if abs(ratio / candidate - 1) <= ASPECT_SNAP:
                return candidate
    return ratio


def warp(
    pixels: np.ndarray, matrix: np.ndarray, size: Size, fill: tuple[int, int, int]
) -> np.ndarray:
    """Resample `pixels` (H x W x 3, uint8) through `matrix` into an image of `size`.

    Pure 90-degree turns and whole-pixel shifts are copied exactly; anything
    else is interpolated bilinearly. Areas outside the source get `fill`.
    """
    exact = _exact_copy(pixels, matrix, size, fill)
    if exact is not None:
        return exact
    m = normalised(matrix)
    border = tuple(float(v) for v in fill)
    if np.allclose(m[2, :2], 0.0, atol=1e-12):
        return cv2.warpAffine(pixels, m[:2], size, flags=cv2.INTER_LINEAR, borderValue=border)
    return cv2.warpPerspective(pixels, m, size, flags=cv2.INTER_LINEAR, borderValue=border)


def coverage(source: Size, matrix: np.ndarray, size: Size) -> np.ndarray:
    """Which pixels of `warp(pixels of size source, matrix, size)` are resampled wholly from
    inside the source (H x W bool); the others are, at least in part, the fill colour."""
    width, height = source
    ones = np.full((height, width), 255, dtype=np.uint8)
    m = normalised(matrix)
    if np.allclose(m[2, :2], 0.0, atol=1e-12):
        inside = cv2.warpAffine(ones, m[:2], size, flags=cv2.INTER_LINEAR, borderValue=0)
    else:
        inside = cv2.warpPerspective(ones, m, size, flags=cv2.INTER_LINEAR, borderValue=0)
    return np.asarray(inside == 255)


def _exact_copy(
    pixels: np.ndarray, matrix: np.ndarray, size: Size, fill: tuple[int, int, int]
) -> np.ndarray | None:
    m = normalised(matrix)
    if not np.allclose(m[2, :2], 0.0, atol=1e-12):
        return None
    height, width = pixels.shape[:2]
    for turns in range(4):
        turn, _ = quarter_turns((width, height), turns)
        if np.allclose(m[:2, :2], turn[:2, :2], atol=1e-9):
            shift = m @ np.linalg.inv(turn)
            dx, dy = shift[0, 2], shift[1, 2]
            if abs(dx - round(dx)) < 1e-6 and abs(dy - round(dy)) < 1e-6:
                turned = np.rot90(pixels, -turns)
                return _shifted(turned, round(dx), round(dy), size, fill)
            return None
    return None


def _shifted(
    pixels: np.ndarray, dx: int, dy: int, size: Size, fill: tuple[int, int, int]
) -> np.ndarray:
    """Place `pixels` at offset (dx, dy) on a canvas of `size` filled with `fill`."""
    width, height = size
    src_h, src_w = pixels.shape[:2]
    x0, y0 = max(0, dx), max(0, dy)
    x1, y1 = min(width, src_w + dx), min(height, src_h + dy)
    if x0 == 0 and y0 == 0 and x1 == width and y1 == height:
        return np.ascontiguousarray(pixels[y0 - dy : y1 - dy, x0 - dx : x1 - dx])
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = np.asarray(fill, dtype=np.uint8)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = pixels[y0 - dy : y1 - dy, x0 - dx : x1 - dx]
    return canvas


Line = tuple[np.ndarray, np.ndarray]  # a point on it and its direction


def line_intersection(first: Line, second: Line) -> np.ndarray | None:
    """Where two lines (point, direction) cross, or None when they are (nearly) parallel."""
    (p, u), (q, v) = first, second
    det = u[0] * (-v[1]) - u[1] * (-v[0])
    if abs(det) < 1e-6:
        return None
    t = ((q - p)[0] * (-v[1]) - (q - p)[1] * (-v[0])) / det
    return np.asarray(p + t * u, dtype=np.float64)
