"""Find the ECG paper grid: its presence and its period along x and y.

ECG paper carries a square grid (1 mm minor, 5 mm major lines). Averaging the
image's darkness along columns and rows turns the grid into two periodic
profiles; their autocorrelation peaks at the grid period. A square grid has the
same period along both axes, which separates it from ruled text.

Used to pick the first PDF page that holds an ECG and to measure how many
pixels per millimetre an image keeps (docs/preprocessing.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_STRENGTH = 0.2  # normalised autocorrelation of a clearly periodic profile
SQUARE_TOLERANCE = 0.08  # x and y periods of a square grid agree within 8 %
MAX_STRETCH = 1.3  # a flattened photo's aspect ratio is not wrong by more than this


@dataclass(frozen=True)
class GridPitch:
    """The strongest grid period found along each axis, in pixels."""

    x_px: float
    y_px: float
    strength: float  # the weaker of the two autocorrelation peaks, 0..1

    @property
    def is_square(self) -> bool:
        """True when both axes show the same period (a real grid, not text lines)."""
        return abs(self.x_px - self.y_px) <= SQUARE_TOLERANCE * max(self.x_px, self.y_px)


def grid_pitch(
    gray: np.ndarray,
    min_px: float = 4.0,
    max_px: float = 60.0,
    y_tolerance: float = SQUARE_TOLERANCE,
) -> GridPitch | None:
    """Estimate the grid period of a 2-D gray image, or None when it shows no periodicity.

    The x period is searched in [min_px, max_px]; the y period is then looked
    for within `y_tolerance` of the x period first (square grid), else anywhere
    in the range.
    """
    darkness = 255.0 - gray.astype(np.float32)
    ac_x = _autocorrelation(darkness.mean(axis=0), max_px)
    ac_y = _autocorrelation(darkness.mean(axis=1), max_px)
    if ac_x is None or ac_y is None:
        return None
    lag_x = _best_peak(ac_x, min_px, max_px)
    if lag_x is None:
        return None
    lag_y = _best_peak(ac_y, lag_x * (1 - y_tolerance), lag_x * (1 + y_tolerance))
    if lag_y is None or _value(ac_y, lag_y) < MIN_STRENGTH:
        lag_y = _best_peak(ac_y, min_px, max_px)
    if lag_y is None:
        return None
    strength = min(_value(ac_x, lag_x), _value(ac_y, lag_y))
    return GridPitch(x_px=lag_x, y_px=lag_y, strength=float(strength))


def has_ecg_grid(gray: np.ndarray) -> bool:
    """True when `gray` shows a clear square grid (a page rendered at about 72 dpi)."""
    pitch = grid_pitch(gray)
    return pitch is not None and pitch.strength >= MIN_STRENGTH and pitch.is_square


def grid_stretch(gray: np.ndarray) -> float | None:
    """x period over y period of a clear grid that should be square, else None.

    After flattening a photographed sheet with a guessed aspect ratio, a value
    other than 1 says how much the image must be stretched vertically.
    """
    darkness = gray_darkness(gray)
    return period_ratio(darkness.mean(axis=0), darkness.mean(axis=1), MAX_STRETCH)


def period_ratio(first: np.ndarray, second: np.ndarray, max_ratio: float) -> float | None:
    """How much longer the grid period of profile `first` is than that of `second`.

    The two autocorrelation curves are matched as a whole (every harmonic of
    the 1 mm and 5 mm lines at once), which is precise and cannot confuse
    harmonics. None when either profile is not clearly periodic or the best
    match is weak or at the edge of [1 / max_ratio, max_ratio].
    """
    ac_a, ac_b = _autocorrelation(first, 60.0), _autocorrelation(second, 60.0)
    if ac_a is None or ac_b is None:
        return None
    if _strongest(ac_a) < MIN_STRENGTH or _strongest(ac_b) < MIN_STRENGTH:
        return None
    lags = np.arange(4, min(400, ac_a.size, int(ac_b.size / max_ratio)))
    ratios = np.arange(1 / max_ratio, max_ratio, 0.001)
    b_index = np.arange(ac_b.size)
    target = ac_a[lags] - ac_a[lags].mean()
    scores = np.array([_correlation(target, np.interp(lags / r, b_index, ac_b)) for r in ratios])
    best = int(np.argmax(scores))
    if scores[best] < 0.5 or best in (0, ratios.size - 1):
        return None
    left, mid, right = scores[best - 1], scores[best], scores[best + 1]
    curvature = left - 2 * mid + right
    offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return float(ratios[best] + offset * 0.001)


def gray_darkness(gray: np.ndarray) -> np.ndarray:
    """Ink darkness (0 = white) as float32."""
    return 255.0 - gray.astype(np.float32)


def _strongest(ac: np.ndarray) -> float:
    lag = _best_peak(ac, 4, 60)
    return 0.0 if lag is None else _value(ac, lag)


def _correlation(first: np.ndarray, second: np.ndarray) -> float:
    second = second - second.mean()
    denominator = float(np.sqrt((first * first).sum() * (second * second).sum()))
    return float((first * second).sum()) / denominator if denominator > 0 else 0.0


def _autocorrelation(profile: np.ndarray, max_px: float) -> np.ndarray | None:
    """Unbiased, normalised autocorrelation of a profile after removing its slow trend."""
    n = profile.size
    window = int(2 * max_px) | 1
    if n < 3 * window:
        return None
    trend = np.convolve(profile, np.ones(window) / window, mode="same")
    signal = (profile - trend)[window // 2 : n - window // 2]
    signal = signal - signal.mean()
    m = signal.size
    spectrum = np.fft.rfft(signal, 2 * m)
    ac = np.fft.irfft(spectrum * np.conj(spectrum))[:m]
    if ac[0] <= 1e-9:
        return None
    ac = ac / (m - np.arange(m))  # unbiased: divide by the overlap length
    return ac / ac[0]


def _best_peak(ac: np.ndarray, lo: float, hi: float) -> float | None:
    """The highest local maximum of `ac` with lag in [lo, hi], refined to sub-pixel."""
    first, last = max(int(np.floor(lo)), 1), min(int(np.ceil(hi)), ac.size - 2)
    if last <= first:
        return None
    lags = np.arange(first, last + 1)
    is_peak = (ac[lags] >= ac[lags - 1]) & (ac[lags] >= ac[lags + 1])
    if not is_peak.any():
        return None
    lag = int(lags[is_peak][np.argmax(ac[lags[is_peak]])])
    left, mid, right = ac[lag - 1], ac[lag], ac[lag + 1]
    curvature = left - 2 * mid + right
    offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return float(lag + np.clip(offset, -0.5, 0.5))


def _value(ac: np.ndarray, lag: float) -> float:
    """Autocorrelation at a fractional lag (linear interpolation)."""
    return float(np.interp(lag, np.arange(ac.size), ac))
