"""Detect a landscape ECG that was scanned or photographed in portrait (a 90-degree turn).

A trace spends most of its time near its baseline, so along the axis across
the traces the ink piles up in a few narrow bands (one per row of leads),
while along the traces it spreads evenly. The share of ink in the densest
fifth of the rows and of the columns tells which way the traces run; a
portrait image whose ink is clearly banded in columns needs a quarter turn.

The direction of the turn is a weaker guess: in most leads the tallest
deflection (the R wave) points up, so each strip of trace votes for the side
its largest deflections reach. On the real samples this vote is right in only
about two cases out of three; the step records it (`polarity`), and the
180-degree turn is always available as a manual action. Upside-down landscape
images are never turned automatically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BANDING_MARGIN = 0.12  # columns must be this much more banded than rows


@dataclass(frozen=True)
class Orientation:
    """A detected quarter turn (clockwise, 1 or 3) and the evidence for it."""

    turns_cw: int
    banding: float  # column banding minus row banding (0..1)
    polarity: float  # -1..1: how clearly the complexes point one way after the turn


def detect_orientation(gray: np.ndarray, paper_gray: float) -> Orientation | None:
    """A quarter turn for a portrait image whose traces run vertically, else None."""
    height, width = gray.shape
    if height <= width:
        return None
    ink = (gray < min(0.55 * paper_gray, 120.0)).astype(np.uint8)
    if ink.sum() < 200:
        return None
    banding = _banding(ink.sum(axis=0)) - _banding(ink.sum(axis=1))
    if banding < BANDING_MARGIN:
        return None
    turned = np.ascontiguousarray(np.rot90(ink, -1))  # clockwise: columns become rows
    polarity = _polarity(turned)
    return Orientation(1 if polarity >= 0 else 3, banding, polarity)


def _banding(profile: np.ndarray) -> float:
    """Share of the ink in the densest fifth of the lines (rows or columns)."""
    smooth = np.sort(np.convolve(profile.astype(np.float64), np.ones(5) / 5, mode="same"))[::-1]
    return float(smooth[: max(1, smooth.size // 5)].sum() / max(smooth.sum(), 1e-9))


def _polarity(ink: np.ndarray) -> float:
    """+1 when the complexes point up (upright), -1 when down: each trace strip votes."""
    height = ink.shape[0]
    # a trace spends most of its time on its baseline: the row profile peaks there
    profile = np.convolve(ink.sum(axis=1).astype(np.float64), np.ones(5) / 5, mode="same")
    baselines = _peaks(profile, min_gap=max(5, height // 12))
    if not baselines.size:
        return 0.0
    bounds = np.concatenate([[0], (baselines[1:] + baselines[:-1]) // 2, [height]])
    votes = [
        _strip_vote(ink[bounds[i] : bounds[i + 1]], int(b - bounds[i]))
        for i, b in enumerate(baselines)
    ]
    total = sum(abs(v) for v in votes)
    return float(sum(votes) / total) if total else 0.0


def _strip_vote(strip: np.ndarray, baseline: int) -> float:
    """How much further the tallest deflections reach above the baseline than below it."""
    has_ink = strip.any(axis=0)
    if has_ink.sum() < 10:
        return 0.0
    rows = np.arange(strip.shape[0])[:, None]
    top = np.where(strip, rows, strip.shape[0]).min(axis=0)[has_ink]
    bottom = np.where(strip, rows, -1).max(axis=0)[has_ink]
    up = np.percentile(np.clip(baseline - top, 0, None), 98)
    down = np.percentile(np.clip(bottom - baseline, 0, None), 98)
    return float(up - down) / max(up + down, 1.0)


def _peaks(profile: np.ndarray, min_gap: int) -> np.ndarray:
    """Rows of strong local maxima, at least `min_gap` apart (strongest first)."""
    if profile.max() <= 0:
        return np.array([], dtype=np.int64)
    order = np.argsort(profile)[::-1]
    chosen: list[int] = []
    for row in order:
        if profile[row] < 0.3 * profile[order[0]]:
            break
        if all(abs(int(row) - c) >= min_gap for c in chosen):
            chosen.append(int(row))
    return np.array(sorted(chosen), dtype=np.int64)
