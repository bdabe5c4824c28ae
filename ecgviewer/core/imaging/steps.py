"""Preprocessing steps: what each one does, its parameters, and its JSON form.

A step's coordinates refer to its own input, the image produced by the steps
before it. Geometric steps are homographies (composed and applied in one
resampling); the contrast step changes pixel values and is applied after the
geometry. JSON form, as stored in the case record and printed in the report:

    {"op": "perspective", "corners": [[x, y] x4], "size": [w, h], "margin": [mx, my],
     "source": "auto"}
    {"op": "deskew", "angle_deg": -3.2, "fill": [r, g, b], "source": "auto"}
    {"op": "rotate90", "turns_cw": 1, "source": "manual"}
    {"op": "crop", "box": [x0, y0, x1, y1], "source": "auto"}
    {"op": "trim_margins", "box": [x0, y0, x1, y1], "source": "auto"}
    {"op": "contrast", "method": "clahe", "clip_limit": 2.0, "tiles": 8, "source": "manual"}
    {"op": "render", "renderer": {...}, "recording": {...}, "files": [...], "source": "signal"}

Corners run top-left, top-right, bottom-right, bottom-left; boxes are pixel
edges with x1, y1 exclusive; angles follow geometry.py's convention. A
perspective step maps the corners onto a `size` rectangle placed `margin`
pixels (optional, default none) in from each edge of its output, so that the
output shows a little of what lies around the sheet. A "render" step says the
original is a page drawn from a digital recording (core/digital/case_page.py): it
changes no pixel and is kept through every edit and reset.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecgviewer.core.errors import InputError
from ecgviewer.core.imaging.geometry import (
    Size,
    quad_to_rectangle,
    quarter_turns,
    rotation,
    translation,
)

ORDER = ("render", "perspective", "deskew", "rotate90", "crop", "trim_margins", "contrast")
GEOMETRIC = frozenset(("perspective", "deskew", "rotate90", "crop", "trim_margins"))
GIVEN = frozenset(("render",))  # how the original was made: never detected, never dropped
SOURCES = ("auto", "manual", "signal")
_REQUIRED: dict[str, tuple[str, ...]] = {
    "render": ("renderer",),
    "perspective": ("corners", "size"),
    "deskew": ("angle_deg",),
    "rotate90": ("turns_cw",),
    "crop": ("box",),
    "trim_margins": ("box",),
    "contrast": ("method",),
}


@dataclass(frozen=True)
class Step:
    """One recorded preprocessing operation with JSON-ready parameters."""

    op: str
    params: Mapping[str, Any] = field(default_factory=dict)
    source: str = "auto"  # "auto" (detected) or "manual" (chosen by the user)

    def __post_init__(self) -> None:
        _validate(self.op, self.params, self.source)

    @property
    def is_geometric(self) -> bool:
        return self.op in GEOMETRIC

    def to_json(self) -> dict[str, Any]:
        """A plain dict: {"op": ..., parameters..., "source": ...}."""
        return {"op": self.op, **_plain(dict(self.params)), "source": self.source}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        """Rebuild a step from `to_json()` output; raises InputError when it is not valid."""
        if not isinstance(data, Mapping) or "op" not in data:
            raise InputError("A saved preprocessing step is not valid (no 'op').")
        params = {k: v for k, v in data.items() if k not in ("op", "source")}
        return cls(op=str(data["op"]), params=params, source=str(data.get("source", "auto")))

    def geometry(self, size: Size) -> tuple[np.ndarray, Size]:
        """The homography from this step's input (of `size`) to its output, and the output size."""
        p = self.params
        if self.op == "perspective":
            out = (int(p["size"][0]), int(p["size"][1]))
            mx, my = (int(v) for v in p.get("margin", (0, 0)))
            flat = quad_to_rectangle([tuple(c) for c in p["corners"]], out)
            return translation(mx, my) @ flat, (out[0] + 2 * mx, out[1] + 2 * my)
        if self.op == "deskew":
            return rotation(size, float(p["angle_deg"]))
        if self.op == "rotate90":
            return quarter_turns(size, int(p["turns_cw"]))
        if self.op in ("crop", "trim_margins"):
            x0, y0, x1, y1 = (int(v) for v in p["box"])
            return translation(-x0, -y0), (x1 - x0, y1 - y0)
        return np.eye(3), size


def steps_from_json(data: Sequence[Mapping[str, Any]]) -> tuple[Step, ...]:
    """Rebuild an ordered list of steps from JSON (a list of dicts)."""
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise InputError("Saved preprocessing steps must be a list.")
    return tuple(Step.from_json(item) for item in data)


def _validate(op: str, params: Mapping[str, Any], source: str) -> None:
    if op not in _REQUIRED:
        raise InputError(f"Unknown preprocessing step '{op}'.")
    if source not in SOURCES:
        raise InputError(f"Preprocessing step '{op}' has an unknown source '{source}'.")
    missing = [key for key in _REQUIRED[op] if key not in params]
    if missing:
        raise InputError(f"Preprocessing step '{op}' lacks {', '.join(missing)}.")
    try:
        _check_values(op, params)
    except (TypeError, ValueError, IndexError) as exc:
        raise InputError(f"Preprocessing step '{op}' has invalid parameters: {exc}") from exc


def _check_values(op: str, p: Mapping[str, Any]) -> None:
    if op == "perspective":
        corners = np.asarray(p["corners"], dtype=np.float64)
        if corners.shape != (4, 2) or not np.isfinite(corners).all():
            raise ValueError("corners must be four [x, y] points")
        if int(p["size"][0]) < 1 or int(p["size"][1]) < 1:
            raise ValueError("size must be positive")
        margin = list(p.get("margin", (0, 0)))
        if len(margin) != 2 or min(int(v) for v in margin) < 0:
            raise ValueError("margin must be two whole numbers of pixels, not negative")
    elif op == "deskew" and not math.isfinite(float(p["angle_deg"])):
        raise ValueError("angle_deg must be a number")
    elif op == "rotate90":
        int(p["turns_cw"])
    elif op in ("crop", "trim_margins"):
        x0, y0, x1, y1 = (int(v) for v in p["box"])
        if x1 <= x0 or y1 <= y0:
            raise ValueError("box must have x1 > x0 and y1 > y0")


def _plain(value: Any) -> Any:
    """Convert numpy scalars and arrays, tuples and nested containers to JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
