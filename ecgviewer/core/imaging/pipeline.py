"""The automatic preprocessing pipeline: detect each step on a small copy, record it.

Order: perspective (flatten a photographed sheet), deskew (straighten from the
grid), rotate90 (portrait scan of a landscape ECG), crop (cut away what is
not paper), trim_margins (optional), contrast (optional). Detection runs on a
copy reduced by a whole factor to at most 1200 pixels; each detected step is converted to
full-resolution coordinates, and the result is resampled once from the
original (see ecgimage.render). A manual choice for a step replaces its
detection; the steps after it are detected on the changed image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cached_property

import cv2
import numpy as np
from PIL import Image

from ecgviewer.core.imaging.contrast import DEFAULT_PARAMS as CONTRAST_PARAMS
from ecgviewer.core.imaging.deskew import estimate_skew
from ecgviewer.core.imaging.ecgimage import EcgImage
from ecgviewer.core.imaging.geometry import Size, coverage, map_points, rectified_size, warp
from ecgviewer.core.imaging.grid import grid_stretch
from ecgviewer.core.imaging.options import PreprocessOptions
from ecgviewer.core.imaging.orient import detect_orientation
from ecgviewer.core.imaging.outline import is_turned_rectangle, search_outline
from ecgviewer.core.imaging.paper import Paper, close_thin_marks, estimate_paper, find_sheet
from ecgviewer.core.imaging.sheet import Box, content_box, sheet_box
from ecgviewer.core.imaging.steps import ORDER, Step

__all__ = ["PreprocessOptions", "auto_preprocess", "run_pipeline"]

WORK_MAX_SIDE = 1200  # the working copy is at most this, and at least half of it
MIN_SKEW_DEG = 0.1  # below this a rotation would only blur the image
AXIS_ALIGNED_PX = 1.0  # at working scale
GRAY = cv2.COLOR_RGB2GRAY
ASPECT_TOLERANCE = 0.005  # grid squares this close to square need no correction
SHEET_MARGIN = 0.025  # of each side: what a flattened photo shows around the sheet
NOT_FOUND_NOTE = "The sheet's edges were not found with confidence; the photo was left unwarped."


class _Stage:
    """The image as the steps so far leave it, at working scale, plus the mapping to full size.

    The small copy, the paper colour and each stage's pixels are computed only when a
    detector asks for them (manual crops and turns need none of it).
    """

    def __init__(self, original: Image.Image) -> None:
        self.original = original
        self.matrix = np.eye(3)  # original (full size) -> this stage (full size)
        self.size: Size = original.size
        self.suggestion: Step | None = None  # a turn not sure enough to apply
        self.notes: list[str] = []  # what the user should know about the result
        self.sheet: np.ndarray | None = None  # a flattened sheet's corners in this stage
        self.sheet_found_by = ""

    @cached_property
    def factor(self) -> int:
        """The whole-number reduction to the working scale (exact area averaging is fast)."""
        return max(1, math.ceil(max(self.original.size) / WORK_MAX_SIDE))

    @cached_property
    def work(self) -> np.ndarray:
        """The original reduced `factor` times (the last odd row or column may be dropped)."""
        pixels = self.pixels_full
        k = self.factor
        if k == 1:
            return pixels
        height, width = (pixels.shape[0] // k) * k, (pixels.shape[1] // k) * k
        return cv2.resize(
            pixels[:height, :width], (width // k, height // k), interpolation=cv2.INTER_AREA
        )

    @cached_property
    def pixels_full(self) -> np.ndarray:
        """The original as an array (converted once, shared with the result's rendering)."""
        return np.asarray(self.original)

    @property
    def array_if_made(self) -> np.ndarray | None:
        """`pixels_full` when a detector already needed it, else None (nothing converted)."""
        return self.__dict__.get("pixels_full")

    @property
    def sx(self) -> float:
        return 1.0 / self.factor

    @property
    def sy(self) -> float:
        return 1.0 / self.factor

    @cached_property
    def paper(self) -> Paper:
        return estimate_paper(close_thin_marks(self.work))

    def advance(self, step: Step) -> None:
        matrix, self.size = step.geometry(self.size)
        self.matrix = matrix @ self.matrix
        if step.op == "perspective":
            self.sheet = _flattened_sheet(step)
            self.sheet_found_by = str(step.params.get("found_by", ""))
        elif self.sheet is not None:
            self.sheet = map_points(matrix, self.sheet)
        for derived in ("pixels", "closed", "observed"):
            self.__dict__.pop(derived, None)

    @cached_property
    def pixels(self) -> np.ndarray:
        """This stage rendered from the small copy of the original."""
        return self._render(self.matrix, self.size)

    @cached_property
    def closed(self) -> np.ndarray:
        """`pixels` with thin dark marks (grid, traces, text) closed over."""
        return close_thin_marks(self.pixels)

    @cached_property
    def observed(self) -> np.ndarray:
        """True where `pixels` show the photo; False where a step made them up (the corners a
        rotation uncovers, painted in the paper colour, are no evidence of paper)."""
        source = (self.work.shape[1], self.work.shape[0])
        size = (self.pixels.shape[1], self.pixels.shape[0])
        return coverage(source, self._to_work(self.matrix), size)

    @property
    def gray(self) -> np.ndarray:
        return cv2.cvtColor(self.pixels, cv2.COLOR_RGB2GRAY)

    def preview(self, step: Step) -> np.ndarray:
        """This stage with `step` applied, at working scale, without advancing."""
        matrix, size = step.geometry(self.size)
        return self._render(matrix @ self.matrix, size)

    def _render(self, matrix: np.ndarray, size: Size) -> np.ndarray:
        small = (max(1, math.floor(size[0] * self.sx)), max(1, math.floor(size[1] * self.sy)))
        return warp(self.work, self._to_work(matrix), small, self.paper.rgb)

    def _to_work(self, matrix: np.ndarray) -> np.ndarray:
        """`matrix` (full-size coordinates) as a map between working-scale coordinates."""
        sx, sy = self.sx, self.sy
        to_work = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])
        return to_work @ matrix @ np.linalg.inv(to_work)

    def point_to_full(self, points: np.ndarray) -> np.ndarray:
        return (points + 0.5) / np.array([self.sx, self.sy]) - 0.5

    def box_to_full(self, box: Box) -> list[int]:
        x0, y0, x1, y1 = box
        width, height = self.size
        return [
            max(0, math.floor(x0 / self.sx)),
            max(0, math.floor(y0 / self.sy)),
            min(width, math.ceil(x1 / self.sx)),
            min(height, math.ceil(y1 / self.sy)),
        ]


def auto_preprocess(original: Image.Image, options: PreprocessOptions | None = None) -> EcgImage:
    """Detect and record every enabled step for `original` (RGB) and return the EcgImage."""
    return run_pipeline(original, options or PreprocessOptions(), {})


def run_pipeline(
    original: Image.Image, options: PreprocessOptions, manual: Mapping[str, Step]
) -> EcgImage:
    """Build the steps: manual choices where given, automatic detection where enabled."""
    stage = _Stage(original)
    steps: list[Step] = []
    for op in ORDER:
        step = manual.get(op)
        if step is not None:
            step = _complete(step, stage)
        elif options.enabled(op):
            step = _DETECTORS[op](stage)
        if step is None:
            continue
        steps.append(step)
        if step.is_geometric:
            stage.advance(step)
    return EcgImage(
        original,
        steps,
        options=options,
        manual=manual,
        pixels=stage.array_if_made,
        suggestion=stage.suggestion,
        notes=tuple(stage.notes),
    )


def _complete(step: Step, stage: _Stage) -> Step:
    """Give a manual rotation the paper colour for the corners it uncovers."""
    if step.op == "deskew" and "fill" not in step.params and float(step.params["angle_deg"]):
        return Step(step.op, {**step.params, "fill": list(stage.paper.rgb)}, step.source)
    return step


def _detect_perspective(stage: _Stage) -> Step | None:
    corners, evidence = _sheet_corners(stage)
    if corners is None or _axis_aligned(corners):
        return None  # an upright sheet needs no resampling: the crop step cuts it out exactly
    full = np.round(stage.point_to_full(corners), 2)
    size, aspect = rectified_size([tuple(c) for c in full], stage.size)
    params = {"corners": full.tolist(), "size": list(size), "aspect": round(aspect, 4)}
    params.update(evidence)
    stretch = grid_stretch(cv2.cvtColor(stage.preview(Step("perspective", params)), GRAY))
    if stretch is not None and abs(stretch - 1) >= ASPECT_TOLERANCE:
        # the printed grid is square: trust it over the camera model for the aspect ratio
        width, height = size
        size = (width, max(1, round(height * stretch)))
        params.update(size=list(size), aspect=round(width / size[1], 4), aspect_from="grid")
    margin = [round(SHEET_MARGIN * size[0]), round(SHEET_MARGIN * size[1])]
    return Step("perspective", {**params, "margin": margin, "fill": list(stage.paper.rgb)})


def _flattened_sheet(step: Step) -> np.ndarray | None:
    """The sheet's corners in an automatic perspective step's output, when it left a margin
    around the sheet for the crop step to cut (None otherwise: the output is the sheet)."""
    if "margin" not in step.params or step.source != "auto":
        return None
    (mx, my), (width, height) = step.params["margin"], step.params["size"]
    x0, y0, x1, y1 = mx - 0.5, my - 0.5, mx + width - 0.5, my + height - 0.5
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=np.float64)


def _sheet_corners(stage: _Stage) -> tuple[np.ndarray | None, dict[str, object]]:
    """The sheet's corners at working scale, and the evidence recorded with them: its outline
    first (corners may lie outside the frame), else a paper region wholly inside the frame.
    When neither is found in what looks like a photo of a sheet, a note says so."""
    search = search_outline(stage.closed, stage.paper, stage.gray)
    outline = search.outline
    if outline is not None and not is_turned_rectangle(outline.corners):
        evidence = {"support": round(outline.support, 2), "agreement": round(outline.agreement, 2)}
        return outline.corners, {"found_by": "outline", **evidence}
    corners = find_sheet(stage.closed, stage.paper)
    if corners is None and search.missed:
        stage.notes.append(NOT_FOUND_NOTE)
    return corners, {"found_by": "paper_region"}


def _axis_aligned(corners: np.ndarray) -> bool:
    """True when the quadrilateral is an upright rectangle to within a pixel."""
    xs, ys = corners[:, 0], corners[:, 1]
    left, right = (xs[0] + xs[3]) / 2, (xs[1] + xs[2]) / 2
    top, bottom = (ys[0] + ys[1]) / 2, (ys[2] + ys[3]) / 2
    ideal = np.array([(left, top), (right, top), (right, bottom), (left, bottom)])
    return bool(np.abs(corners - ideal).max() <= AXIS_ALIGNED_PX)


def _detect_deskew(stage: _Stage) -> Step | None:
    skew = estimate_skew(stage.gray)
    if skew is None or abs(skew.angle_deg) < MIN_SKEW_DEG:
        return None
    params = {
        "angle_deg": round(skew.angle_deg, 2),
        "fill": list(stage.paper.rgb),
        "confidence": round(skew.confidence, 1),
    }
    return Step("deskew", params)


def _detect_orientation(stage: _Stage) -> Step | None:
    found = detect_orientation(stage.pixels)
    if found is None:
        return None
    params = {
        "turns_cw": found.turns_cw,
        "axis": round(found.axis, 3),
        "upness": round(found.upness, 2),
    }
    if found.confident:
        return Step("rotate90", params)
    stage.suggestion = Step("rotate90", {**params, "suggested": True})
    return None


def _detect_crop(stage: _Stage) -> Step | None:
    if stage.sheet is not None:
        return _sheet_crop(stage.sheet, stage.size, stage.sheet_found_by)
    box = sheet_box(stage.closed, stage.paper, stage.observed)
    return None if box is None else _box_step("crop", stage, box)


def _sheet_crop(sheet: np.ndarray, size: Size, found_by: str) -> Step:
    """Cut a flattened sheet out of the margin around it: its edges where the steps since
    the perspective left them (midway along each side, should a small turn have tilted it)."""
    xs, ys = np.sort(sheet[:, 0]) + 0.5, np.sort(sheet[:, 1]) + 0.5  # pixel edges
    x0, x1 = max(0, round(xs[:2].mean())), min(size[0], round(xs[2:].mean()))
    y0, y1 = max(0, round(ys[:2].mean())), min(size[1], round(ys[2:].mean()))
    return Step("crop", {"box": [x0, y0, x1, y1], "found_by": found_by})


def _detect_trim(stage: _Stage) -> Step | None:
    box = content_box(stage.pixels, stage.paper)
    return None if box is None else _box_step("trim_margins", stage, box)


def _box_step(op: str, stage: _Stage, box: Box) -> Step | None:
    full = stage.box_to_full(box)
    if full == [0, 0, stage.size[0], stage.size[1]]:
        return None
    return Step(op, {"box": full})


def _contrast(stage: _Stage) -> Step:
    return Step("contrast", dict(CONTRAST_PARAMS))


_DETECTORS: dict[str, Callable[[_Stage], Step | None]] = {
    "perspective": _detect_perspective,
    "deskew": _detect_deskew,
    "rotate90": _detect_orientation,
    "crop": _detect_crop,
    "trim_margins": _detect_trim,
    "contrast": _contrast,
}
