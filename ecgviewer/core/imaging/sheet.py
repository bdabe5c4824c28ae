"""Boxes to crop to: the whole sheet (crop step) and the printed content (trim_margins).

The sheet crop looks at each side for a straight boundary running along that
side, behind which lies something that is not paper: darker (a table, a dark
scanner border, a shadowed desk) or of another colour. It cuts only there, so
the whole sheet stays, with its header, lead labels and margins; a white
margin, a gradual shadow or a wrinkle is never cut. Trimming blank paper
margins is a separate, optional step.

Pixels that a rotation made up (the corners it uncovers, painted in the paper
colour) are not evidence of anything: the crop ignores them, so a tilted photo
whose dark background shows only in wedges along the sheet is still cut at the
sheet's edges.
"""

from __future__ import annotations

import cv2
import numpy as np

from ecgviewer.core.imaging.paper import Paper, paper_distance

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)

MAX_CUT = 0.4  # never cut more than this share of a side's depth
MIN_STEP = 14.0  # colour change (CIELAB units) across a sheet boundary
DARKER_BY = 14.0  # background behind the boundary is at least this much darker, or
OTHER_HUE_BY = 18.0  # differs this much in colour (a and b channels) without being lighter
PAPER_LIKE = 25.0  # the sheet side of a boundary is this close to the paper colour
STRAIGHT_ROWS = 0.5  # share of the boundary's length that must show the step
CONTENT_FRACTION = 0.004  # a row or column with this share of marks holds printed content
CONTENT_DISTANCE = 30.0
MARGIN_FRACTION = 0.015  # kept around the content when trimming


def sheet_box(closed: np.ndarray, paper: Paper, observed: np.ndarray | None = None) -> Box | None:
    """The box inside any non-paper border found on the four sides of a closed image (see
    paper.close_thin_marks), or None when there is none. `observed` (H x W bool) marks the
    pixels that show the photo; the others, made up by an earlier step, are ignored."""
    lab = cv2.cvtColor(closed, cv2.COLOR_RGB2LAB).astype(np.float32)
    if observed is not None and not observed.all():
        lab[~observed] = np.nan
    height, width = lab.shape[:2]
    views = {
        "left": lab,
        "right": lab[:, ::-1],
        "top": lab.transpose(1, 0, 2),
        "bottom": lab.transpose(1, 0, 2)[:, ::-1],
    }
    reference = np.asarray(paper.lab, dtype=np.float32)
    cuts = {side: _cut_from_left(view, reference) for side, view in views.items()}
    box = (cuts["left"], cuts["top"], width - cuts["right"], height - cuts["bottom"])
    if box == (0, 0, width, height) or box[2] <= box[0] or box[3] <= box[1]:
        return None
    return box


def _cut_from_left(lab: np.ndarray, paper_lab: np.ndarray) -> int:
    """Columns to remove on the left: up to the strongest straight paper boundary, else 0.
    NaN pixels (made up, not seen) count neither as paper nor as background."""
    height, width = lab.shape[:2]
    band = lab[height // 10 : height - height // 10 : 6]
    profile = _median(band)  # (width, 3): robust to traces and text
    k = max(3, width // 150)
    limit = int(MAX_CUT * width)
    if limit <= 2 * k:
        return 0
    xs = np.arange(k, limit)
    outer, inner = _window_means(profile, xs - k, xs), _window_means(profile, xs, xs + k)
    step = np.nan_to_num(_distance(outer, inner), nan=0.0)
    candidates = [i for i in np.argsort(step)[::-1][:5] if step[i] >= MIN_STEP]
    for i in candidates:
        x = int(xs[i])
        behind = _median(profile[:x])  # all of it, not just next to the edge
        if np.isnan(behind).any():
            continue  # nothing seen behind the boundary
        if _distance(inner[i], paper_lab) > PAPER_LIKE:
            continue  # the inner side is not paper (a coloured line, a dark band)
        if not (_is_background(outer[i], inner[i]) and _is_background(behind, inner[i])):
            continue
        if _distance(behind, inner[i]) >= MIN_STEP and _is_straight(band, x, k, step[i]):
            return x
    return 0


def _median(values: np.ndarray) -> np.ndarray:
    """The median along the first axis of the entries that are not NaN (NaN where none is)."""
    ordered = np.sort(values, axis=0)  # NaN sorts last
    count = np.count_nonzero(~np.isnan(values), axis=0)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0)[None] // 2, axis=0)[0]
    high = np.take_along_axis(ordered, count[None] // 2 - (count[None] == 0), axis=0)[0]
    return np.where(count > 0, (low + high) / 2, np.nan)


def _window_means(profile: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mean of the rows starts[i]:ends[i] of `profile` that are not NaN (NaN where none is)."""
    seen = ~np.isnan(profile)
    sums = np.vstack([np.zeros((1, profile.shape[1])), np.cumsum(np.where(seen, profile, 0), 0)])
    counts = np.vstack([np.zeros((1, profile.shape[1])), np.cumsum(seen, axis=0)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((sums[ends] - sums[starts]) / (counts[ends] - counts[starts]))


def _distance(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    delta = first - second
    delta[..., 0] *= 0.5  # lightness counts half, as for the paper mask
    return np.sqrt((delta * delta).sum(axis=-1))


def _is_background(outer: np.ndarray, inner: np.ndarray) -> bool:
    """Behind the boundary: darker than the paper, or another colour and not lighter."""
    darker = inner[0] - outer[0] >= DARKER_BY
    hue = float(np.hypot(*(outer[1:] - inner[1:])))
    return bool(darker or (hue >= OTHER_HUE_BY and outer[0] <= inner[0] + 10))


def _is_straight(band: np.ndarray, x: int, k: int, step: float) -> bool:
    """The step shows along most of the boundary's length, not in one patch (a row where
    either side is made up does not show it)."""
    outer = _mean(band[:, x - k : x], axis=1)
    inner = _mean(band[:, x : x + k], axis=1)
    shown = np.nan_to_num(_distance(outer, inner), nan=0.0) >= 0.5 * step
    return float(shown.mean()) >= STRAIGHT_ROWS


def _mean(values: np.ndarray, axis: int) -> np.ndarray:
    """The mean along `axis` of the entries that are not NaN (NaN where none is)."""
    seen = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(seen, values, 0).sum(axis=axis) / seen.sum(axis=axis))


def content_box(rgb: np.ndarray, paper: Paper) -> Box | None:
    """The box around printed marks (grid, traces, text) plus a small margin, or None."""
    marks = paper_distance(rgb, paper) > CONTENT_DISTANCE
    marks = cv2.morphologyEx(marks.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    height, width = marks.shape
    rows = _span(marks.mean(axis=1) >= CONTENT_FRACTION)
    cols = _span(marks.mean(axis=0) >= CONTENT_FRACTION)
    if rows is None or cols is None:
        return None
    pad_x, pad_y = round(MARGIN_FRACTION * width), round(MARGIN_FRACTION * height)
    box = (
        max(0, cols[0] - pad_x),
        max(0, rows[0] - pad_y),
        min(width, cols[1] + pad_x),
        min(height, rows[1] + pad_y),
    )
    return None if box == (0, 0, width, height) else box


def _span(flags: np.ndarray) -> tuple[int, int] | None:
    """First index and one past the last index where `flags` is true."""
    hits = np.flatnonzero(flags)
    if hits.size == 0:
        return None
    return int(hits[0]), int(hits[-1]) + 1
