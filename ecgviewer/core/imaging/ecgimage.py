"""`EcgImage`: the untouched original, the ordered preprocessing steps, and their result.

Non-destructive and reproducible: the result is always computed from the
original through the recorded steps (one resampling for all geometric steps,
then pixel steps), so `EcgImage.from_json(original, image.steps_json())` gives
identical pixels. `transform` maps original pixel coordinates to result
pixel coordinates.

EcgImage is immutable: each manual override returns a new EcgImage (keep the
old one to undo). A manual choice replaces the automatic one for its step;
the automatic steps after it are detected again on the changed image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from ecgviewer.core.errors import InputError
from ecgviewer.core.imaging.contrast import DEFAULT_PARAMS as CONTRAST_PARAMS
from ecgviewer.core.imaging.contrast import normalise_contrast
from ecgviewer.core.imaging.geometry import (
    Point,
    Size,
    map_points,
    normalised,
    rectified_size,
    warp,
)
from ecgviewer.core.imaging.options import PreprocessOptions
from ecgviewer.core.imaging.steps import GIVEN, ORDER, Step, steps_from_json

WHITE = (255, 255, 255)
_FRAME_CHANGES: dict[str, tuple[str, ...]] = {
    "perspective": ("crop", "trim_margins"),
    "deskew": ("crop", "trim_margins"),
    "rotate90": ("crop", "trim_margins"),
    "crop": ("trim_margins",),
}


def compose(steps: Sequence[Step], size: Size) -> tuple[np.ndarray, Size]:
    """The homography of all geometric `steps` for an input of `size`, and the output size."""
    matrix = np.eye(3)
    for step in steps:
        if step.is_geometric:
            step_matrix, size = step.geometry(size)
            matrix = step_matrix @ matrix
    return normalised(matrix), size


def render(
    original: Image.Image, steps: Sequence[Step], pixels: np.ndarray | None = None
) -> Image.Image:
    """Apply `steps` to `original` (RGB; `pixels` is its array, if at hand) and return the
    new RGB image."""
    matrix, size = compose(steps, original.size)
    source = np.asarray(original) if pixels is None else pixels
    pixels = warp(source, matrix, size, _fill(steps))
    for step in steps:
        if step.op == "contrast":
            pixels = normalise_contrast(pixels, step.params)
    return Image.fromarray(np.ascontiguousarray(pixels), "RGB")


def _fill(steps: Sequence[Step]) -> tuple[int, int, int]:
    """Colour for areas a rotation uncovers: the last geometric step's `fill`, else white."""
    fills = [s.params["fill"] for s in steps if s.is_geometric and "fill" in s.params]
    if not fills:
        return WHITE
    red, green, blue = (int(v) for v in fills[-1])
    return red, green, blue


class EcgImage:
    """An opened ECG page: `original` pixels, `steps`, and the straightened `result`."""

    def __init__(
        self,
        original: Image.Image,
        steps: Sequence[Step] = (),
        *,
        options: PreprocessOptions | None = None,
        manual: Mapping[str, Step] | None = None,
        pixels: np.ndarray | None = None,
        suggestion: Step | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        if original.mode != "RGB":
            raise InputError("EcgImage needs an RGB image; open files with load_image().")
        self._original = original
        self._steps = tuple(steps)
        self._options = options or PreprocessOptions()
        self._manual = dict(manual or {})
        self._transform, self._size = compose(self._steps, original.size)
        self._result: Image.Image | None = None
        self._pixels = pixels  # the original as an array, if the caller already made one
        self._suggestion = suggestion
        self._notes = tuple(notes)

    @property
    def original(self) -> Image.Image:
        """The decoded page exactly as loaded. Never modified."""
        return self._original

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps applied, in order."""
        return self._steps

    @property
    def options(self) -> PreprocessOptions:
        return self._options

    @property
    def manual(self) -> dict[str, Step]:
        """The user's overrides, by step name."""
        return dict(self._manual)

    @property
    def orientation_suggestion(self) -> Step | None:
        """A quarter-turn step the detector proposes but was not sure enough to apply.

        `turns_cw` is relative to `result`: accept it with `with_rotate90(turns_cw)`.
        Also carries the evidence (`axis`, `upness`). None when nothing is proposed.
        """
        return self._suggestion

    @property
    def notes(self) -> tuple[str, ...]:
        """What the clinician should know about how the result was made, in plain sentences
        (e.g. that the sheet's edges were not found with confidence). Made by the automatic
        pipeline each time it runs; stored nowhere (an image rebuilt from saved steps has
        none until the pipeline runs again)."""
        return self._notes

    def suggestion_json(self) -> dict[str, Any] | None:
        """`orientation_suggestion` as a JSON-ready dict (source "auto"), or None."""
        return None if self._suggestion is None else self._suggestion.to_json()

    @property
    def transform(self) -> np.ndarray:
        """3x3 homography from original pixel coordinates to result pixel coordinates."""
        return self._transform.copy()

    @property
    def output_size(self) -> Size:
        """(width, height) of `result`."""
        return self._size

    @property
    def result(self) -> Image.Image:
        """The straightened image (computed once, on first use)."""
        if self._result is None:
            self._result = render(self._original, self._steps, self._pixels)
            self._pixels = None  # not needed any more: do not keep a second copy
        return self._result

    def steps_json(self) -> list[dict[str, Any]]:
        """The steps as JSON-ready dicts, for the case record and the report."""
        return [step.to_json() for step in self._steps]

    def to_json(self) -> list[dict[str, Any]]:
        """Same as `steps_json()`; `EcgImage.from_json(original, ...)` reverses it."""
        return self.steps_json()

    @classmethod
    def from_json(
        cls,
        original: Image.Image,
        data: Sequence[Mapping[str, Any]],
        options: PreprocessOptions | None = None,
    ) -> EcgImage:
        """Re-apply saved steps (from `steps_json()`) to the same original."""
        steps = steps_from_json(data)
        manual = {s.op: s for s in steps if s.source == "manual"}
        if options is None and any(s.op in GIVEN for s in steps):
            options = PreprocessOptions.none()  # a drawn page: nothing to detect on it
        return cls(original, steps, options=options, manual=manual)

    def map_to_result(self, points: np.ndarray | Sequence[Point]) -> np.ndarray:
        """Map (N, 2) original pixel coordinates into the result."""
        return map_points(self._transform, points)

    def map_to_original(self, points: np.ndarray | Sequence[Point]) -> np.ndarray:
        """Map (N, 2) result pixel coordinates back into the original."""
        return map_points(np.linalg.inv(self._transform), points)

    def image_before(self, op: str) -> Image.Image:
        """The image that step `op` applies to (what a crop rectangle is drawn on)."""
        return render(self._original, self._steps_before(op))

    def size_before(self, op: str) -> Size:
        """Size of `image_before(op)` without rendering it."""
        return compose(self._steps_before(op), self._original.size)[1]

    def _steps_before(self, op: str) -> list[Step]:
        later = set(ORDER[ORDER.index(op) :])
        return [s for s in self._steps if s.op not in later]

    # --- manual overrides: each returns a new EcgImage --------------------------------

    def with_perspective(self, corners: Sequence[Point]) -> EcgImage:
        """Flatten the sheet with these corners (original coordinates; TL, TR, BR, BL)."""
        points = [(float(x), float(y)) for x, y in corners]
        if len(points) != 4:
            raise InputError(
                "Give exactly four corners: top-left, top-right, bottom-right, bottom-left."
            )
        size, aspect = rectified_size(points, self._original.size)
        params = {
            "corners": [list(p) for p in points],
            "size": list(size),
            "aspect": round(aspect, 4),
        }
        return self._override(Step("perspective", params, "manual"))

    def with_rotation(self, angle_deg: float) -> EcgImage:
        """Straighten by `angle_deg` instead of the detected skew.

        Positive: the content appears turned clockwise and is turned back.
        """
        return self._override(Step("deskew", {"angle_deg": float(angle_deg)}, "manual"))

    def with_rotate90(self, turns_cw: int = 1) -> EcgImage:
        """Turn the result by `turns_cw` more quarter turns clockwise (negative: anticlockwise)."""
        current = next((int(s.params["turns_cw"]) for s in self._steps if s.op == "rotate90"), 0)
        return self._override(Step("rotate90", {"turns_cw": (current + turns_cw) % 4}, "manual"))

    def with_crop(self, box: Sequence[float]) -> EcgImage:
        """Crop to `box` (x0, y0, x1, y1) given in the coordinates of `image_before("crop")`."""
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        if x1 <= x0 or y1 <= y0:
            raise InputError("The crop rectangle is empty: x1 must exceed x0 and y1 exceed y0.")
        return self._override(Step("crop", {"box": [x0, y0, x1, y1]}, "manual"))

    def with_contrast(self, enabled: bool = True) -> EcgImage:
        """Turn contrast normalisation on or off for this image."""
        options = PreprocessOptions(**{**self._options.to_json(), "contrast": enabled})
        manual = {k: v for k, v in self._manual.items() if k != "contrast"}
        if enabled:
            manual["contrast"] = Step("contrast", dict(CONTRAST_PARAMS), "manual")
        return self._rebuild(options, manual)

    def with_options(self, options: PreprocessOptions) -> EcgImage:
        """Re-run the automatic steps with other switches, keeping manual choices."""
        return self._rebuild(options, self._manual)

    def without_override(self, op: str) -> EcgImage:
        """Forget the manual choice for step `op`; it is detected automatically again."""
        manual = {k: v for k, v in self._manual.items() if k != op}
        return self._rebuild(self._options, manual)

    def reset_to_automatic(self) -> EcgImage:
        """Drop every manual choice and run the automatic pipeline again."""
        return self._rebuild(self._options, {})

    def reset_to_original(self) -> EcgImage:
        """No steps at all (but how the original was made): the result is the original."""
        return EcgImage(self._original, self._given(), options=self._options)

    def _override(self, step: Step) -> EcgImage:
        dropped = _FRAME_CHANGES.get(step.op, ())
        manual = {k: v for k, v in self._manual.items() if k not in dropped}
        manual[step.op] = step
        return self._rebuild(self._options, manual)

    def _given(self) -> tuple[Step, ...]:
        """The steps that say how the original was made (a page drawn from a signal)."""
        return tuple(step for step in self._steps if step.op in GIVEN)

    def _rebuild(self, options: PreprocessOptions, manual: Mapping[str, Step]) -> EcgImage:
        from ecgviewer.core.imaging.pipeline import run_pipeline

        given = {step.op: step for step in self._given()}
        return run_pipeline(self._original, options, {**given, **manual})
