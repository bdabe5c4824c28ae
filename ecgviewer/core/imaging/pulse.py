"""Which way up an ECG's calibration pulses point: a cue for orient.py.

Most recorders print a calibration pulse at one end of each row of leads: the trace
steps up by 1 mV (10 mm), runs flat for about 0.2 s (5 mm) and steps back down, a
box open at the baseline. Whichever end of the row it is at, it rises above the
baseline on an upright page, so a box whose flat side is away from the baseline says
which way is up.

On the ink mask with horizontal traces (traces.py), a pulse is two near-vertical strokes
of about equal height h, 0.3 h to 0.9 h apart, their ends level, little ink between them,
a flat stroke joining the ends away from the baseline and the other ends at a baseline
(traces.baselines). The cue is the mean vote, counted as if there were at least
`MIN_VOTES` pulses, so that one pulse alone gives a weak cue.
"""

from __future__ import annotations

import cv2
import numpy as np

from ecgviewer.core.imaging.traces import baselines

MIN_STROKE_PX = 10  # a pulse's side is at least this tall (working scale)
MAX_STROKE_PX = 7  # and at most this wide
GAP = (0.3, 0.9)  # the sides' distance, in their height
LEVEL = 0.25  # ends closer than this (in height) count as level; heights alike within it
EMPTY = 0.08  # the most ink inside the box
FLAT = 0.8  # the flat side spans at least this share of the gap
MIN_VOTES = 3


def pulse_cue(ink: np.ndarray) -> float:
    """-1..1: how clearly the calibration pulses of horizontal traces point up (+)."""
    votes = pulse_votes(ink)
    return sum(votes) / max(len(votes), MIN_VOTES)


def pulse_votes(ink: np.ndarray) -> list[int]:
    """+1 for each pulse that rises above its baseline, -1 for each that drops below it."""
    rows = baselines(ink)[0]
    if not rows.size:
        return []
    flat = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, 4), np.uint8))
    sides = _strokes(ink).tolist()  # plain ints: much faster to compare one by one
    votes = []
    for i, left in enumerate(sides):
        for right in sides[i + 1 :]:
            if right[0] - left[0] > GAP[1] * left[3]:
                break
            vote = _box_vote(ink, flat, rows, left, right)
            if vote:
                votes.append(vote)
    return votes


def _strokes(ink: np.ndarray) -> np.ndarray:
    """Boxes (x, y, w, h, area) of near-vertical strokes, sorted by x; one pixel of slant
    and short breaks are bridged (photos)."""
    widened = cv2.dilate(ink, np.ones((1, 3), np.uint8))
    joined = cv2.morphologyEx(widened, cv2.MORPH_CLOSE, np.ones((5, 1), np.uint8))
    upright = cv2.morphologyEx(joined, cv2.MORPH_OPEN, np.ones((MIN_STROKE_PX, 1), np.uint8))
    stats = cv2.connectedComponentsWithStats(upright, connectivity=8)[2][1:]
    stats = stats[stats[:, 2] <= MAX_STROKE_PX]
    return np.asarray(stats[np.argsort(stats[:, 0], kind="stable")])


def _box_vote(
    ink: np.ndarray, flat: np.ndarray, rows: np.ndarray, left: list[int], right: list[int]
) -> int:
    """+1 or -1 when two strokes make a pulse (see the module), else 0."""
    x, top, width, height = left[:4]
    gap = right[0] - x
    if gap < GAP[0] * height or abs(right[3] - height) > LEVEL * height:
        return 0
    if abs(right[1] - top) > LEVEL * height:
        return 0
    bottom, inner = top + height - 1, slice(x + width, right[0])
    inside = ink[top + 4 : bottom - 3, x + width + 1 : right[0] - 1]
    if inside.size == 0 or inside.mean() > EMPTY:
        return 0
    baseline = rows[np.argmin(np.abs(rows - (top + bottom) / 2))]
    for end, side, vote in ((bottom, top, 1), (top, bottom, -1)):
        closed = flat[max(0, side - 2) : side + 3, inner].any(axis=0).mean() > FLAT
        if abs(end - baseline) < LEVEL * height and closed:
            return vote
    return 0
