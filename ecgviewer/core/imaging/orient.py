"""Which way up an ECG page or photo is: a quarter, half or three-quarter turn, or none.

Two questions, answered from the trace ink (traces.py) on the working copy:

1. **Axis.** A trace spends most of its time near its baseline, so across the
   traces the ink piles up in a few narrow bands (one per row of leads), while
   along them it spreads evenly. `axis` is the banding of rows minus that of
   columns, plus a small prior for the page's long side (ECGs are printed
   landscape): positive when the traces run left to right.
2. **Up or down.** `traces.upness` on the image turned so that the traces run
   left to right: R waves and P/T waves mostly point up.

A turn is applied only when both answers are clear (`AXIS_APPLY`, `UP_APPLY`,
`UP_FLIP`); a weaker case becomes a suggestion the clinician accepts with one
click. The thresholds are set so that no upright shared sample is turned or
even gets a suggestion (docs/preprocessing.md lists the measurements).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.core.imaging.traces import banding, trace_ink, upness

AXIS_APPLY = 0.15  # |axis| above this: the traces' direction is certain
AXIS_SUGGEST = 0.0  # traces that run more vertically than this need a quarter turn
UP_APPLY = 0.2  # |upness| above this: the quarter turn's direction is certain
UP_FLIP = 0.3  # upness below minus this: a landscape page is turned by 180 degrees
UP_SUGGEST = 0.2  # upness below minus this: a 180-degree turn is suggested
LANDSCAPE_PRIOR = 0.1  # added to axis when the image is clearly wider than tall
LANDSCAPE_RATIO = 1.15


@dataclass(frozen=True)
class Orientation:
    """A turn that would bring the ECG upright, the evidence, and whether it is sure."""

    turns_cw: int  # 1, 2 or 3 quarter turns clockwise
    axis: float  # >0: traces run left to right before the turn
    upness: float  # -1..1 after the turn: how clearly the deflections point up
    confident: bool  # apply it automatically (else only suggest it)


def detect_orientation(rgb: np.ndarray) -> Orientation | None:
    """The turn an RGB working copy needs, or None when it looks upright (or no cue)."""
    ink = trace_ink(rgb)
    if int(ink.sum()) < 200:
        return None
    axis = _axis(ink)
    if axis < -AXIS_SUGGEST:
        return _quarter_turn(ink, axis)
    up = upness(ink)
    if up >= -UP_SUGGEST:
        return None
    return Orientation(2, axis, -up, confident=axis > AXIS_APPLY and up < -UP_FLIP)


def _axis(ink: np.ndarray) -> float:
    height, width = ink.shape
    prior = 0.0
    if width > LANDSCAPE_RATIO * height:
        prior = LANDSCAPE_PRIOR
    elif height > LANDSCAPE_RATIO * width:
        prior = -LANDSCAPE_PRIOR
    return banding(ink.sum(axis=1)) - banding(ink.sum(axis=0)) + prior


def _quarter_turn(ink: np.ndarray, axis: float) -> Orientation:
    """Vertical traces: turn clockwise or anticlockwise, whichever leaves them pointing up."""
    clockwise = np.ascontiguousarray(np.rot90(ink, -1))
    up = upness(clockwise)
    turns = 1 if up >= 0 else 3
    confident = axis < -AXIS_APPLY and abs(up) >= UP_APPLY
    return Orientation(turns, axis, abs(up), confident)
