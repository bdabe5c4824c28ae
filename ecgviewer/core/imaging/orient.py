"""Which way up an ECG page or photo is: a quarter, half or three-quarter turn, or none.

Two questions, answered from the trace ink (traces.py) on the working copy:

1. **Axis.** `axiscue.axis_score`: banding, elongation and coverage of the trace ink,
   positive when the traces run left to right.
2. **Up or down**, on the image turned so that the traces run left to right: one
   score from four independent cues, `traces.upness` (R waves and P/T waves mostly
   point up), `TEXT_WEIGHT` times `textlines.text_cue` (text lines have a flat bottom
   and a ragged top; it counts fully from `TEXT_GLYPHS` glyphs), `TIME_WEIGHT` times
   `timecue.time_cue` (T waves follow the QRS complexes) and `PULSE_WEIGHT` times
   `pulse.pulse_cue` (calibration pulses rise above the baseline). A quarter turn's
   direction is the sign of this score.

A turn is applied only when both answers are clear (`AXIS_APPLY`, `UP_APPLY`,
`UP_FLIP`); a weaker case becomes a suggestion the clinician accepts with one
click. The thresholds are set so that no upright shared sample is turned or
even gets a suggestion (docs/preprocessing.md lists the measurements).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.core.imaging.axiscue import axis_score
from ecgviewer.core.imaging.pulse import pulse_cue
from ecgviewer.core.imaging.textlines import text_cue
from ecgviewer.core.imaging.timecue import time_cue
from ecgviewer.core.imaging.traces import trace_masks, upness

AXIS_APPLY = 0.2  # |axis| above this: the traces' direction is certain (upright: >= 0.31)
AXIS_SUGGEST = 0.0  # traces that run more vertically than this need a quarter turn
UP_APPLY = 0.25  # |upness| above this: the quarter turn's direction is certain
UP_FLIP = 0.25  # upness below minus this: a landscape page is turned by 180 degrees
UP_SUGGEST = 0.2  # upness below minus this: a 180-degree turn is suggested
TEXT_WEIGHT = 4.0  # text cue units (line heights) to upness units
TEXT_GLYPHS = 20  # glyphs from which the text cue counts fully
TIME_WEIGHT = 1.0  # time cue units to upness units (more would turn upright bbox_00002)
PULSE_WEIGHT = 0.5  # pulse cue units to upness units (one pulse alone: about 0.17)
CUE_VOTE = 0.05  # a cue this far from 0 takes a side (see _seconded)


@dataclass(frozen=True)
class Orientation:
    """A turn that would bring the ECG upright, the evidence, and whether it is sure."""

    turns_cw: int  # 1, 2 or 3 quarter turns clockwise
    axis: float  # >0: traces run left to right before the turn
    upness: float  # after the turn: the up/down score (all cues), >0 for upright
    confident: bool  # apply it automatically (else only suggest it)
    waves: float = 0.0  # the wave cue alone, after the turn (traces.upness)
    text: float = 0.0  # the text cue alone, after the turn, weighted (textlines.text_cue)
    time: float = 0.0  # the time cue alone, after the turn, weighted (timecue.time_cue)
    pulse: float = 0.0  # the pulse cue alone, after the turn, weighted (pulse.pulse_cue)


def detect_orientation(rgb: np.ndarray) -> Orientation | None:
    """The turn an RGB working copy needs, or None when it looks upright (or no cue)."""
    ink, faint = trace_masks(rgb)
    if int(ink.sum()) < 200:
        return None
    axis = axis_score(ink)
    if axis < -AXIS_SUGGEST:
        return _quarter_turn(ink, faint, axis)
    up, cues = _up_score(ink, faint)
    if up >= -UP_SUGGEST:
        return None
    seconded = _seconded(cues, -1.0)
    if not seconded and any(cue >= CUE_VOTE for cue in cues):
        return None  # one cue says upside down and another says upright: leave it be
    confident = axis > AXIS_APPLY and up < -UP_FLIP and seconded
    return Orientation(2, axis, -up, confident, *(-cue for cue in cues))


def _up_score(ink: np.ndarray, faint: np.ndarray) -> tuple[float, tuple[float, ...]]:
    """The up/down score of masks with horizontal traces, and its wave, text, time and
    pulse parts. The pulse cue is looked for only where it could change the decision
    (within `PULSE_WEIGHT` of a threshold); elsewhere its part is 0."""
    waves = upness(ink)
    cue = text_cue(ink)
    text = TEXT_WEIGHT * cue.score * min(1.0, cue.glyphs / TEXT_GLYPHS)
    time = TIME_WEIGHT * time_cue(faint)
    up = waves + text + time
    pulse = PULSE_WEIGHT * pulse_cue(ink) if abs(up) < UP_APPLY + PULSE_WEIGHT else 0.0
    return up + pulse, (waves, text, time, pulse)


def _seconded(cues: tuple[float, ...], sign: float) -> bool:
    """True when the time cue (right on 67 of 68 cases alone) or at least two cues take the
    side of `sign`. The waves alone are not enough to turn a page: a single strip of V2
    with deep S waves (ecg-digitize/029) points down and is upright."""
    waves, text, time, pulse = (int(sign * cue >= CUE_VOTE) for cue in cues)
    return bool(time) or waves + text + pulse >= 2


def _quarter_turn(ink: np.ndarray, faint: np.ndarray, axis: float) -> Orientation:
    """Vertical traces: turn clockwise or anticlockwise, whichever leaves them pointing up."""
    up, cues = _up_score(*(np.ascontiguousarray(np.rot90(m, -1)) for m in (ink, faint)))
    sign = 1.0 if up >= 0 else -1.0
    confident = axis < -AXIS_APPLY and abs(up) >= UP_APPLY and _seconded(cues, sign)
    return Orientation(2 - int(sign), axis, abs(up), confident, *(sign * cue for cue in cues))
