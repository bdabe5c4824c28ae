"""Shared fixtures for the imaging tests: synthetic pages and photos with exact ground truth.

Photos are made with a pinhole camera: the synthetic ECG sheet is turned in
3-D (roll, pitch, yaw), projected with a known focal length (principal point
at the frame centre) and laid over a textured "table". The sheet's true
corners in the photo are known exactly, so a test can map them through the
reported transform and measure what the pipeline did.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ecgviewer.core.imaging.geometry import homography_from_points, map_points
from ecgviewer.core.imaging.synthetic import render

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "ecg-samples"
PAGE_WIDTH = 1400  # US Letter landscape at 127 dpi: fast, and the 1 mm grid is 5 px


@dataclass(frozen=True)
class Photo:
    """A synthetic photo and where the sheet's corners (TL, TR, BR, BL) are in it."""

    image: Image.Image
    corners: np.ndarray


@dataclass(frozen=True)
class SheetMetrics:
    """How the sheet came out: worst edge tilt, share of the sheet kept, share of background."""

    edge_deg: float
    kept: float
    background: float


@pytest.fixture(scope="session")
def page() -> Image.Image:
    """The synthetic 12-lead ECG on a whole US Letter sheet (1400 x 1082)."""
    return render(width_px=PAGE_WIDTH, dpi=round(PAGE_WIDTH / 11)).image


@pytest.fixture(scope="session")
def samples() -> Path:
    """The shared real samples; the test is skipped where they are absent."""
    if not (SAMPLES / "MANIFEST.tsv").is_file():
        pytest.skip("shared ECG samples are not available here")
    return SAMPLES


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Environment for running `python -m ecgviewer` with a private ECGVIEWER_HOME."""
    monkeypatch.setenv("ECGVIEWER_HOME", str(tmp_path / "home"))
    import os

    repo = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ)
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    yield env


def texture(width: int, height: int, seed: int, light: bool = False) -> np.ndarray:
    """A wood-grain-like table surface: low-frequency blotches, wavy grain and noise."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(150, 190, 3) if light else rng.uniform(60, 140, 3)
    blotch = cv2.resize(
        rng.normal(0, 1, (6, 8)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC
    )
    yy = np.arange(height, dtype=np.float32)[:, None]
    xx = np.arange(width, dtype=np.float32)[None, :]
    grain = np.sin(yy / rng.uniform(6, 14) + 3 * blotch + 0.002 * xx) * 12
    value = 18 * blotch + grain + rng.normal(0, 6, (height, width)).astype(np.float32)
    tint = np.array([1.0, 0.85, 0.7], dtype=np.float32)
    return np.clip(base[None, None, :] + value[..., None] * tint, 0, 255).astype(np.uint8)


def camera_photo(
    sheet: Image.Image,
    *,
    roll: float = 0.0,
    pitch: float = 0.0,
    yaw: float = 0.0,
    focal: float = 1.2,
    seed: int = 0,
    light: bool = False,
    shadow: float = 0.0,
) -> Photo:
    """Photograph `sheet` turned by roll (in the image plane; positive: clockwise on screen),
    pitch and yaw (degrees) with focal length `focal` x frame width."""
    w, h = sheet.size
    frame_w, frame_h = int(1.5 * w), int(1.5 * h)
    f = focal * frame_w
    rotation = _rotation_matrix(roll, pitch, yaw)
    corners = np.array([(-0.5, -0.5), (w - 0.5, -0.5), (w - 0.5, h - 0.5), (-0.5, h - 0.5)])
    plane = np.column_stack([corners - np.array([(w - 1) / 2, (h - 1) / 2]), np.zeros(4)])
    centre = np.array([(frame_w - 1) / 2, (frame_h - 1) / 2])
    distance = f
    for _ in range(30):  # step back until the sheet fits with a margin
        camera = plane @ rotation.T + np.array([0.0, 0.0, distance])
        projected = f * camera[:, :2] / camera[:, 2:3] + centre
        low, high = projected.min(axis=0), projected.max(axis=0)
        if (low > 0.06 * np.array([frame_w, frame_h])).all() and (
            high < 0.94 * np.array([frame_w, frame_h])
        ).all():
            break
        distance *= 1.1
    matrix = homography_from_points(corners, projected)
    size = (frame_w, frame_h)
    warped = cv2.warpPerspective(np.asarray(sheet), matrix, size, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.ones((h, w), np.float32), matrix, size, flags=cv2.INTER_LINEAR)
    alpha = alpha[..., None]
    pixels = alpha * warped + (1 - alpha) * texture(frame_w, frame_h, seed, light)
    if shadow:
        pixels = pixels * np.linspace(1.0, 1.0 - shadow, frame_w, dtype=np.float32)[None, :, None]
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return Photo(image=image, corners=projected)


def _rotation_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    r, p, y = (math.radians(v) for v in (roll, pitch, yaw))
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    return rz @ rx @ ry


def sheet_metrics(
    transform: np.ndarray, corners: np.ndarray, size: tuple[int, int]
) -> SheetMetrics:
    """Map the sheet's true corners through `transform` into an output of `size` and measure."""
    mapped = map_points(transform, corners)
    tilts = []
    for i, expected in enumerate((0.0, 90.0, 180.0, -90.0)):
        dx, dy = mapped[(i + 1) % 4] - mapped[i]
        tilts.append(abs((math.degrees(math.atan2(dy, dx)) - expected + 180) % 360 - 180))
    width, height = size
    frame = np.array(
        [(-0.5, -0.5), (width - 0.5, -0.5), (width - 0.5, height - 0.5), (-0.5, height - 0.5)],
        dtype=np.float32,
    )
    overlap, _ = cv2.intersectConvexConvex(mapped.astype(np.float32), frame)
    sheet_area = cv2.contourArea(mapped.astype(np.float32))
    return SheetMetrics(
        edge_deg=max(tilts),
        kept=float(overlap) / sheet_area,
        background=1.0 - float(overlap) / (width * height),
    )


@pytest.fixture(scope="session")
def photo() -> Callable[..., Photo]:
    """`photo(sheet, roll=..., pitch=..., ...)`: see `camera_photo`."""
    return camera_photo


@pytest.fixture(scope="session")
def measure() -> Callable[[np.ndarray, np.ndarray, tuple[int, int]], SheetMetrics]:
    """`measure(transform, corners, output_size)`: see `sheet_metrics`."""
    return sheet_metrics
