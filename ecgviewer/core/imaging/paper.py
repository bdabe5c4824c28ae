"""Tell paper from background: the paper's colour, a paper mask, and the sheet's corners.

Everything here works on a downscaled copy (about 1000 pixels on the long
side). Thin dark structures (grid lines, traces, text) are first removed by a
morphological closing, so that the printed sheet looks like one uniform
colour; pixels close to that colour, in CIELAB with lightness weighted down
(shadows darken paper but keep its hue), are paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ecgviewer.core.imaging.geometry import line_intersection

CLOSE_PX = 7  # wider than grid lines and traces at the working scale
OPEN_PX = 15
L_WEIGHT = 0.5  # lightness counts half: a shadow is still paper
MIN_THRESHOLD, MAX_THRESHOLD = 14.0, 40.0
MIN_SHEET_AREA = 0.15  # of the frame
THRESHOLD_STEPS = (1.0, 0.75, 0.55, 0.4)
STRICTEST_THRESHOLD = 7.0
OFF_FRAME = 0.25  # paper along a quarter of a side at the strictest threshold: runs off-frame
BORDER_CONTACT = 0.02  # a side touched along more than 2 % of its length: sheet runs off-frame


@dataclass(frozen=True)
class Paper:
    """The paper's colour, as RGB and as OpenCV 8-bit CIELAB."""

    rgb: tuple[int, int, int]
    lab: tuple[float, float, float]


def close_thin_marks(rgb: np.ndarray) -> np.ndarray:
    """Erase thin dark marks (grid, traces, text strokes) by a colour closing."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (CLOSE_PX, CLOSE_PX))
    return cv2.morphologyEx(rgb, cv2.MORPH_CLOSE, kernel)


def estimate_paper(closed: np.ndarray) -> Paper:
    """The colour of the sheet, from the brighter part of the central region of a closed image
    (see `close_thin_marks`)."""
    height, width = closed.shape[:2]
    centre = closed[height // 4 : height - height // 4, width // 4 : width - width // 4]
    lab = cv2.cvtColor(centre, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    bright = lab[lab[:, 0] >= np.percentile(lab[:, 0], 60)]
    l_med, a_med, b_med = (float(v) for v in np.median(bright, axis=0))
    pixel = np.array([[[l_med, a_med, b_med]]], dtype=np.uint8)
    r, g, b = (int(v) for v in cv2.cvtColor(pixel, cv2.COLOR_LAB2RGB)[0, 0])
    return Paper(rgb=(r, g, b), lab=(l_med, a_med, b_med))


def paper_distance(rgb: np.ndarray, paper: Paper) -> np.ndarray:
    """Per-pixel colour distance to the paper (float32)."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    reference = np.array([*(float(round(v)) for v in paper.lab), 0.0])  # an OpenCV scalar
    delta = cv2.absdiff(lab, reference)  # whole CIELAB units: plenty for telling paper apart
    squared = cv2.multiply(delta, delta, dtype=cv2.CV_32F)
    weights = np.array([[L_WEIGHT**2, 1.0, 1.0]], dtype=np.float32)  # weighted channel sum
    return cv2.sqrt(cv2.transform(squared, weights))


def paper_mask(closed: np.ndarray, paper: Paper, threshold: float | None = None) -> np.ndarray:
    """A uint8 mask (255 = paper) of the largest paper-coloured region of a closed image,
    holes filled. The colour threshold defaults to Otsu's split of the distances."""
    distance = paper_distance(closed, paper)
    return _mask_below(distance, _threshold(distance) if threshold is None else threshold)


def _mask_below(distance: np.ndarray, threshold: float) -> np.ndarray:
    raw = np.where(distance <= threshold, 255, 0).astype(np.uint8)
    # a wide opening cuts thin bridges into paper-coloured patches of the background
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (OPEN_PX, OPEN_PX))
    return _fill_holes(_largest_component(cv2.morphologyEx(raw, cv2.MORPH_OPEN, kernel)))


def _threshold(distance: np.ndarray) -> float:
    """Otsu's split of the distances, kept in a sane range for paper-versus-background."""
    clipped = np.clip(distance, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(clipped, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(np.clip(otsu, MIN_THRESHOLD, MAX_THRESHOLD))


def _largest_component(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    if count <= 1:
        return mask
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.where(labels == biggest, 255, 0).astype(np.uint8)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill regions of non-paper fully enclosed by paper (a dark logo, a thick trace)."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    outside = padded.copy()
    flood = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), dtype=np.uint8)
    cv2.floodFill(outside, flood, (0, 0), 255)
    holes = cv2.bitwise_not(outside)[1:-1, 1:-1]
    return cv2.bitwise_or(mask, holes)


def find_sheet(closed: np.ndarray, paper: Paper) -> np.ndarray | None:
    """Corners (top-left, top-right, bottom-right, bottom-left; (4, 2) float) of a sheet lying
    fully inside the frame of a closed image, or None when no sheet boundary is visible.

    Otsu's colour threshold is tried first, then stricter ones: a light patch of the
    table touching the sheet joins it at a loose threshold and parts at a strict one.
    """
    distance = paper_distance(closed, paper)
    otsu = _threshold(distance)
    if _runs_off_frame(distance, max(otsu * THRESHOLD_STEPS[-1], STRICTEST_THRESHOLD)):
        return None  # a scan, or a photo taken inside the sheet: no boundary to find
    for factor in THRESHOLD_STEPS:
        threshold = max(otsu * factor, STRICTEST_THRESHOLD)
        corners = _sheet_corners(_mask_below(distance, threshold))
        if corners is not None:
            return corners
        if threshold <= STRICTEST_THRESHOLD:
            break
    return None


def _sheet_corners(mask: np.ndarray) -> np.ndarray | None:
    if mask.mean() / 255.0 < MIN_SHEET_AREA or _touches_frame(mask):
        return None
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float64)
    rough = _rough_quad(contour)
    if rough is None:
        return None
    corners = _refine_corners(rough, contour)
    if corners is None or not _plausible(corners, mask):
        return None
    return corners


def _runs_off_frame(distance: np.ndarray, threshold: float) -> bool:
    """Paper colour covers a large part of some side of the frame even at the strictest
    threshold (cheap test before any region analysis)."""
    sides = (distance[:2, :], distance[-2:, :], distance[:, :2], distance[:, -2:])
    return any(float((side <= threshold).mean()) > OFF_FRAME for side in sides)


def _touches_frame(mask: np.ndarray) -> bool:
    sides = (mask[0, :], mask[-1, :], mask[:, 0], mask[:, -1])
    return any(side.mean() / 255.0 > BORDER_CONTACT for side in sides)


def _rough_quad(contour: np.ndarray) -> np.ndarray | None:
    hull = cv2.convexHull(contour.astype(np.float32))
    perimeter = cv2.arcLength(hull, closed=True)
    for fraction in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, fraction * perimeter, closed=True).reshape(-1, 2)
        if len(approx) == 4:
            return _order_corners(approx.astype(np.float64))
        if len(approx) < 4:
            return None
    return None


def _order_corners(points: np.ndarray) -> np.ndarray:
    """Order four points as top-left, top-right, bottom-right, bottom-left."""
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    ordered = points[np.argsort(angles)]  # clockwise on screen, starting anywhere
    start = int(np.argmin(ordered.sum(axis=1)))
    return np.roll(ordered, -start, axis=0)


def _refine_corners(rough: np.ndarray, contour: np.ndarray) -> np.ndarray | None:
    """Fit a straight line to the boundary along each side and intersect neighbouring lines."""
    lines = []
    for i in range(4):
        a, b = rough[i], rough[(i + 1) % 4]
        direction = (b - a) / max(np.linalg.norm(b - a), 1e-9)
        normal = np.array([-direction[1], direction[0]])
        along = (contour - a) @ direction / np.linalg.norm(b - a)
        across = np.abs((contour - a) @ normal)
        tolerance = max(3.0, 0.02 * np.linalg.norm(b - a))
        chosen = contour[(along > 0.1) & (along < 0.9) & (across < tolerance)]
        if len(chosen) < 10:
            return None
        vx, vy, x0, y0 = cv2.fitLine(chosen.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01)
        lines.append(
            (np.array([float(x0[0]), float(y0[0])]), np.array([float(vx[0]), float(vy[0])]))
        )
    corners = [line_intersection(lines[i - 1], lines[i]) for i in range(4)]
    if any(c is None for c in corners):
        return None
    return np.array(corners, dtype=np.float64)


def _plausible(corners: np.ndarray, mask: np.ndarray) -> bool:
    """A convex quadrilateral inside the frame that the paper region fills well."""
    height, width = mask.shape
    margin = 0.02 * max(width, height)
    inside = (corners[:, 0] > -margin).all() and (corners[:, 0] < width + margin).all()
    inside = inside and (corners[:, 1] > -margin).all() and (corners[:, 1] < height + margin).all()
    quad = corners.astype(np.float32)
    if not inside or not cv2.isContourConvex(quad):
        return False
    quad_area = cv2.contourArea(quad)
    fill = float(np.count_nonzero(mask)) / max(quad_area, 1.0)
    return 0.9 <= fill <= 1.08 and quad_area >= MIN_SHEET_AREA * width * height
