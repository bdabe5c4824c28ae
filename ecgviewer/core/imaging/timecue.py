"""Which way time runs along an ECG's traces: a cue for orient.py.

A heartbeat is asymmetric in time. After each QRS complex come the ST segment and
the broad T wave; before it only the small P wave and the flat TP baseline. A page
turned by 180 degrees runs time backwards, so the trace strays further from its
baseline just before its QRS complexes than just after them. The cue uses the
distance from the baseline whichever side it is on, so it does not depend on which
way the waves point (the wave cue, traces.upness) nor on printed text.

Per strip of the faint trace mask (traces.faint_trace_ink) the trace is the centroid
row of each column's ink; QRS complexes are runs of columns whose ink spans much of
the strip's tallest stroke; each complex votes with the log ratio of the trace's
mean distance from its local baseline in a window after it and the mirror window
before it, both scaled by the distance to the nearest neighbouring complex (RR).
"""

from __future__ import annotations

import cv2
import numpy as np

from ecgviewer.core.imaging.traces import baselines

TRACE_PX = 40  # a trace piece is at least this wide or tall (text and labels are smaller)
QRS_SPAN = 0.45  # of the strip's tallest stroke: the least a QRS column spans
MIN_QRS_PX = 6
MIN_RR_PX = 8
NEAR, FAR = 0.06, 0.42  # window after (before) a complex, in RR from its end (start)
CONTEXT = 0.6  # RR each side of a complex for its local baseline
MAX_GAPS = 0.3  # share of columns without trace ink a window may have
SOFT_PX = 0.5  # added to both window means so flat traces vote weakly


def time_cue(ink: np.ndarray) -> float:
    """-1..1: how clearly time runs left to right (+) along a mask's horizontal traces."""
    trace = _trace_pieces(ink)
    rows, bounds = baselines(trace)
    votes: list[float] = []
    for i in range(len(rows)):
        votes.extend(_strip_votes(trace[bounds[i] : bounds[i + 1]]))
    if not votes:
        return 0.0
    return float(np.clip(votes, -1, 1).mean())


def _trace_pieces(ink: np.ndarray) -> np.ndarray:
    """The ink of marks that are long once small gaps are bridged: traces, not text."""
    bridged = cv2.dilate(ink, np.ones((3, 7), np.uint8))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(bridged, connectivity=8)
    keep = (stats[:, cv2.CC_STAT_WIDTH] >= TRACE_PX) | (stats[:, cv2.CC_STAT_HEIGHT] >= TRACE_PX)
    keep[0] = False
    return np.asarray(keep[labels] & (ink > 0), np.uint8)


def _strip_votes(strip: np.ndarray) -> list[float]:
    """One log-ratio vote per QRS complex of a strip with room for both windows."""
    has_ink = np.asarray(strip.any(axis=0))
    if has_ink.sum() < 30:
        return []
    centre, span = _columns(strip, has_ink)
    tallest = float(np.percentile(span[has_ink], 99))
    complexes = _complexes(span >= max(MIN_QRS_PX, QRS_SPAN * tallest))
    if len(complexes) < 3:
        return []
    middles = complexes.mean(axis=1)
    votes = []
    for i, (start, end) in enumerate(complexes):
        gaps = np.abs(middles[max(0, i - 1) : i + 2] - middles[i])
        vote = _vote(centre, int(start), int(end), float(gaps[gaps > 0].min()))
        if vote is not None:
            votes.append(vote)
    return votes


def _columns(strip: np.ndarray, has_ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the centroid row of the ink (NaN where none) and its vertical span."""
    height = strip.shape[0]
    rows = np.arange(height, dtype=np.float32)
    count = strip.sum(axis=0, dtype=np.float32)
    centre = np.where(has_ink, (rows @ strip) / np.maximum(count, 1), np.nan)
    top = strip.argmax(axis=0)
    bottom = height - 1 - strip[::-1].argmax(axis=0)
    return centre.astype(np.float64), np.where(has_ink, bottom - top, 0)


def _complexes(tall: np.ndarray) -> np.ndarray:
    """(first, last) column of each run of tall columns, runs closer than 4 px merged."""
    columns = np.flatnonzero(tall)
    if not columns.size:
        return np.zeros((0, 2), np.int64)
    breaks = np.flatnonzero(np.diff(columns) > 3)
    return np.stack([columns[np.r_[0, breaks + 1]], columns[np.r_[breaks, columns.size - 1]]], 1)


def _vote(centre: np.ndarray, start: int, end: int, rr: float) -> float | None:
    """log(mean distance from baseline after the complex / before it), or None."""
    low, high = int(start - CONTEXT * rr), int(end + CONTEXT * rr)
    if rr < MIN_RR_PX or low < 0 or high >= centre.size:
        return None
    context = centre[low : high + 1]
    known = context[~np.isnan(context)]
    if known.size < (1 - MAX_GAPS) * context.size:
        return None
    level = float(np.median(known))
    after = _known(centre[int(np.ceil(end + NEAR * rr)) : int(np.floor(end + FAR * rr)) + 1])
    before = _known(centre[int(np.ceil(start - FAR * rr)) : int(np.floor(start - NEAR * rr)) + 1])
    if after is None or before is None:
        return None
    far_after, far_before = np.abs(after - level).mean(), np.abs(before - level).mean()
    return float(np.log((far_after + SOFT_PX) / (far_before + SOFT_PX)))


def _known(window: np.ndarray) -> np.ndarray | None:
    """The window's trace rows where it has ink, or None when it has too many gaps."""
    known = window[~np.isnan(window)]
    return known if known.size and known.size >= (1 - MAX_GAPS) * window.size else None
