"""Find a photographed sheet by its outline, even when corners fall outside the frame.

The region find_sheet (paper.py) needs a sheet lying wholly inside the photo.
Phone photos of a printout on a desk often crop a corner or touch the frame,
and crumpled or shadowed paper is not one uniform colour. Here the paper
region (paper-coloured after the thin marks are closed, lightness weighted
down so that a shadow stays paper) only supplies boundary points; the parts of
its boundary that run along the frame are dropped, and the sheet's four sides
are the straight lines best supported by what is left (Hough transform, then a
robust fit). Corners may lie outside the frame: they are where the sides meet.

A side that leaves the frame after a short stretch is fitted from too little
boundary, often a curled edge, to trust its angle: given the image with its
printed lines, its direction is taken from them instead (sides.py).

Confidence: the four sides must be seen along most of their length inside the
frame, and the quadrilateral must agree with the paper region (little paper
outside it, mostly paper inside). `search_outline` reports the best
quadrilateral either way, so that the caller can say the sheet was seen but not
found with confidence; `find_outline` returns only a confident one.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from ecgviewer.core.imaging.geometry import line_intersection
from ecgviewer.core.imaging.paper import Paper, _fill_holes, _largest_component, paper_distance
from ecgviewer.core.imaging.sides import straighten_short_sides

SMALL_SIDE = 400  # the outline is searched on a copy this long
FRAME_MARGIN = 3  # boundary points this close to the frame are the frame, not the sheet
MIN_AREA = 0.2  # of the frame
MAX_LINES = 10
MIN_SUPPORT = 0.6  # share of each side's visible length backed by boundary points
MIN_VISIBLE = 0.12  # of each side's length inside the frame
MIN_AGREEMENT = 0.85  # intersection over union of the quad and the paper region
REFINE_BANDS = (6.0, 3.0, 2.0)  # pixels either side of a side, at the search scale
PARALLEL_DEG = 35.0  # opposite sides of a photographed sheet differ by less than this
MAX_REGION_SHARE = 0.97  # a paper region larger than this is a scan or a photo inside the sheet
# a sheet on a background, by its look: the paper covers clearly less than the frame and what
# lies around it is far from the paper's colour (a desk; a shadow or a crease on paper is nearer)
PHOTO_REGION_SHARE = 0.85
BACKGROUND_DISTANCE = 30.0  # median paper distance outside the paper region
ROUGH_AGREEMENT = 0.5  # a quadrilateral at least this close to the region outlines the sheet

Line = tuple[float, float]  # rho, theta as cv2.HoughLines gives them


@dataclass(frozen=True)
class Outline:
    """A sheet found by its outline: corners (TL, TR, BR, BL by position in the image) in the
    coordinates of the image searched, and the evidence for it."""

    corners: np.ndarray
    support: float  # weakest side's share of its visible length seen as boundary
    agreement: float  # intersection over union with the paper region

    @property
    def confident(self) -> bool:
        """Every side backed by boundary and the quadrilateral agreeing with the paper."""
        return self.support >= MIN_SUPPORT and self.agreement >= MIN_AGREEMENT


@dataclass(frozen=True)
class OutlineSearch:
    """What the outline search saw: the paper region's share of the frame (0 when there is
    none) and the best quadrilateral, confident or not (None when none was formed)."""

    region_share: float
    best: Outline | None
    background_distance: float = 0.0  # median paper distance outside the paper region

    @property
    def outline(self) -> Outline | None:
        """The best quadrilateral when it is confident, else None."""
        return self.best if self.best is not None and self.best.confident else None

    @property
    def missed(self) -> bool:
        """True when a sheet was seen but its outline not found with confidence: a rough
        quadrilateral whose sides are not backed well enough, or none at all in what looks
        like a sheet on a background. Never for a scan or a photo taken inside the sheet."""
        if self.best is not None and not self.best.confident:
            return self.best.agreement >= ROUGH_AGREEMENT
        on_background = self.background_distance >= BACKGROUND_DISTANCE
        return (
            self.best is None
            and MIN_AREA <= self.region_share <= PHOTO_REGION_SHARE
            and on_background
        )


def find_outline(
    closed: np.ndarray, paper: Paper, gray: np.ndarray | None = None
) -> Outline | None:
    """The sheet's outline in a closed image (paper.close_thin_marks), or None when none is
    found with confidence. `gray`: the same image unclosed, its printed lines visible."""
    return search_outline(closed, paper, gray).outline


def search_outline(
    closed: np.ndarray, paper: Paper, gray: np.ndarray | None = None
) -> OutlineSearch:
    """Look for the sheet's outline in a closed image and report what was seen. With `gray`
    (the same image unclosed), short sides take their direction from the printed lines."""
    scale = SMALL_SIDE / max(closed.shape[:2])
    size = (round(closed.shape[1] * scale), round(closed.shape[0] * scale))
    small = cv2.resize(closed, size, interpolation=cv2.INTER_AREA)
    distance = paper_distance(small, paper)
    mask = _paper_region(distance)
    share = float(np.count_nonzero(mask)) / mask.size
    outside = float(np.median(distance[mask == 0])) if share < 1 else 0.0
    if not MIN_AREA <= share <= MAX_REGION_SHARE:
        return OutlineSearch(share, None, outside)
    quad = _best_quad(_boundary(mask), mask)
    if quad is None:
        return OutlineSearch(share, None, outside)
    corners, support = quad
    full = (corners + 0.5) / scale - 0.5
    if gray is not None:
        full = straighten_short_sides(full, gray)
        corners = (full + 0.5) * scale - 0.5
    return OutlineSearch(share, Outline(full, support, _agreement(corners, mask)), outside)


def is_turned_rectangle(corners: np.ndarray, tolerance_deg: float = 0.6) -> bool:
    """True when the quadrilateral is a rectangle, however turned (every angle within
    `tolerance_deg` of 90 degrees): a rotation and a crop flatten it without resampling twice."""
    for i in range(4):
        u = corners[i - 1] - corners[i]
        v = corners[(i + 1) % 4] - corners[i]
        cosine = float(u @ v) / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-9)
        if abs(90.0 - math.degrees(math.acos(np.clip(cosine, -1.0, 1.0)))) > tolerance_deg:
            return False
    return True


def _paper_region(distance: np.ndarray) -> np.ndarray:
    """The largest paper-coloured region (uint8, 255 = paper), holes filled, from each
    pixel's colour distance to the paper."""
    clipped = np.clip(distance, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(clipped, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    raw = np.where(distance <= max(float(otsu), 10.0), 255, 0).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    return _fill_holes(_largest_component(cv2.morphologyEx(raw, cv2.MORPH_OPEN, kernel)))


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of the region, without those along the frame (uint8 image)."""
    edges = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    edges[:FRAME_MARGIN] = 0
    edges[-FRAME_MARGIN:] = 0
    edges[:, :FRAME_MARGIN] = 0
    edges[:, -FRAME_MARGIN:] = 0
    return edges


def _candidate_lines(boundary: np.ndarray) -> list[Line]:
    """Strong, distinct straight lines (rho, theta) through the boundary pixels."""
    found = cv2.HoughLines(boundary, 1, math.pi / 180, max(20, min(boundary.shape) // 8))
    if found is None:
        return []
    lines: list[Line] = []
    reach = 0.05 * max(boundary.shape)
    for rho, theta in found[:, 0, :]:
        if not any(_same_line((rho, theta), other, reach) for other in lines):
            lines.append((float(rho), float(theta)))
        if len(lines) == MAX_LINES:
            break
    return lines


def _same_line(a: Line, b: Line, reach: float) -> bool:
    (r1, t1), (r2, t2) = a, b
    if abs(t1 - t2) > math.pi / 2:  # the same line seen with theta near 0 and near pi
        r2, t2 = -r2, t2 - math.copysign(math.pi, t2 - t1)
    return abs(t1 - t2) < math.radians(8) and abs(r1 - r2) < reach


def _best_quad(boundary: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float] | None:
    lines = _candidate_lines(boundary)
    near = cv2.distanceTransform(255 - boundary, cv2.DIST_L2, 3) <= 2.5
    best: tuple[float, np.ndarray, float] | None = None
    for pair_a, pair_b in itertools.combinations(itertools.combinations(lines, 2), 2):
        corners = _quad(pair_a, pair_b)
        if corners is None or cv2.contourArea(corners.astype(np.float32)) < MIN_AREA * mask.size:
            continue
        support = _support(corners, near)
        if support is None:
            continue
        seen, weakest = support
        if best is None or seen > best[0]:
            best = (seen, corners, weakest)
    if best is None:
        return None
    corners = best[1]
    for band in REFINE_BANDS:  # wide first: a Hough line may be a degree off on a short side
        corners = _refined(corners, boundary, band)
    return corners, best[2]


def _quad(pair_a: tuple[Line, Line], pair_b: tuple[Line, Line]) -> np.ndarray | None:
    """The four corners where two nearly parallel lines cross two others, or None."""
    if not (_parallel(*pair_a) and _parallel(*pair_b)) or _parallel(pair_a[0], pair_b[0]):
        return None
    points = [_cross(a, b) for a in pair_a for b in pair_b]
    if any(p is None for p in points):
        return None
    a0b0, a0b1, a1b0, a1b1 = points
    quad = np.array([a0b0, a0b1, a1b1, a1b0], dtype=np.float64)
    if not cv2.isContourConvex(quad.astype(np.float32)):
        return None
    return _order(quad)


def _parallel(a: Line, b: Line) -> bool:
    diff = abs(a[1] - b[1]) % math.pi
    return min(diff, math.pi - diff) < math.radians(PARALLEL_DEG)


def _cross(a: Line, b: Line) -> np.ndarray | None:
    (r1, t1), (r2, t2) = a, b
    matrix = np.array([[math.cos(t1), math.sin(t1)], [math.cos(t2), math.sin(t2)]])
    if abs(np.linalg.det(matrix)) < 1e-3:
        return None
    return np.linalg.solve(matrix, np.array([r1, r2]))


def _order(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left (clockwise on screen from the corner
    nearest the image's top-left)."""
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    ordered = points[np.argsort(angles)]
    start = int(np.argmin(ordered.sum(axis=1)))
    return np.asarray(np.roll(ordered, -start, axis=0), dtype=np.float64)


def _side_samples(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Integer points along a side that lie inside the frame, away from its edge."""
    count = max(2, int(np.linalg.norm(b - a)))
    t = np.linspace(0.0, 1.0, count)[:, None]
    points = np.round(a + t * (b - a)).astype(int)
    height, width = shape[:2]
    inside = (
        (points[:, 0] >= FRAME_MARGIN)
        & (points[:, 0] < width - FRAME_MARGIN)
        & (points[:, 1] >= FRAME_MARGIN)
        & (points[:, 1] < height - FRAME_MARGIN)
    )
    return points[inside]


def _support(corners: np.ndarray, near: np.ndarray) -> tuple[float, float] | None:
    """Total boundary length along the sides, and the weakest side's share of its visible
    length; None when a side is hardly inside the frame."""
    seen, weakest = 0.0, 1.0
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        points = _side_samples(a, b, near.shape)
        length = max(2, int(np.linalg.norm(b - a)))
        if len(points) < MIN_VISIBLE * length:
            return None
        hits = float(near[points[:, 1], points[:, 0]].sum())
        seen += hits
        weakest = min(weakest, hits / len(points))
    return seen, weakest


def _refined(corners: np.ndarray, boundary: np.ndarray, band: float) -> np.ndarray:
    """Fit each side to the boundary pixels near it (Huber) and intersect the fitted lines."""
    ys, xs = np.nonzero(boundary)
    points = np.column_stack([xs, ys]).astype(np.float64)
    lines = []
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        direction = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
        normal = np.array([-direction[1], direction[0]])
        along = (points - a) @ direction
        chosen = points[
            (np.abs((points - a) @ normal) < band)
            & (along > 0)
            & (along < float(np.linalg.norm(b - a)))
        ]
        if len(chosen) < 10:
            lines.append((a, direction))
            continue
        vx, vy, x0, y0 = cv2.fitLine(chosen.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01)
        lines.append((np.array([x0[0], y0[0]], float), np.array([vx[0], vy[0]], float)))
    refined = [line_intersection(lines[i - 1], lines[i]) for i in range(4)]
    if any(p is None for p in refined):
        return corners
    return np.array(refined, dtype=np.float64)


def _agreement(corners: np.ndarray, mask: np.ndarray) -> float:
    quad = np.zeros_like(mask)
    cv2.fillConvexPoly(quad, np.round(corners).astype(np.int32), 255)
    union = np.count_nonzero(quad | mask)
    return float(np.count_nonzero(quad & mask)) / float(max(int(union), 1))
