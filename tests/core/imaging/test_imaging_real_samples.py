"""The pipeline on the real samples in ../shared/ecg-samples (skipped where absent).

Real images have no exact ground truth, so the thresholds here are looser
than the synthetic ones and are stated with each test. The one measured truth:
rotatedFullScan.png is fullScan.png turned by +5.72 degrees (clockwise on
screen), found by matching ORB features between the two files.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from ecgviewer.core.imaging.loading import load_image
from ecgviewer.core.imaging.pipeline import auto_preprocess

ROTATED_SCAN_DEG = 5.72


def _kinds(samples: Path) -> dict[str, str]:
    with (samples / "MANIFEST.tsv").open(newline="") as stream:
        return {row["file"]: row["kind"] for row in csv.DictReader(stream, delimiter="\t")}


def _deskew(ecg: object) -> float:
    steps = [s for s in ecg.steps if s.op == "deskew"]  # type: ignore[attr-defined]
    return float(steps[0].params["angle_deg"]) if steps else 0.0


def test_rotated_scan_angle_matches_the_measured_truth(samples: Path) -> None:
    ecg = auto_preprocess(load_image(samples / "paper-ecg" / "rotatedFullScan.png").image)
    # positive: the content appears turned clockwise, and is turned back
    assert _deskew(ecg) == pytest.approx(ROTATED_SCAN_DEG, abs=0.15)


def test_rotated_scan_ends_up_aligned_with_the_straight_one(samples: Path) -> None:
    straight = cv2.imread(str(samples / "paper-ecg" / "fullScan.png"), cv2.IMREAD_GRAYSCALE)
    ecg = auto_preprocess(load_image(samples / "paper-ecg" / "rotatedFullScan.png").image)
    result = cv2.cvtColor(np.asarray(ecg.result), cv2.COLOR_RGB2GRAY)
    orb = cv2.ORB_create(4000)
    kp_a, des_a = orb.detectAndCompute(straight, None)
    kp_b, des_b = orb.detectAndCompute(result, None)
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(des_a, des_b)
    a = np.float32([kp_a[m.queryIdx].pt for m in matches])
    b = np.float32([kp_b[m.trainIdx].pt for m in matches])
    similarity, inliers = cv2.estimateAffinePartial2D(
        a, b, ransacReprojThreshold=2.0, maxIters=4000
    )
    assert inliers.sum() > 200
    residual = np.degrees(np.arctan2(similarity[1, 0], similarity[0, 0]))
    assert abs(residual) < 0.2


def test_straight_scan_is_unchanged(samples: Path) -> None:
    original = load_image(samples / "paper-ecg" / "fullScan.png").image
    ecg = auto_preprocess(original)
    assert ecg.steps == ()
    assert np.array_equal(np.asarray(ecg.result), np.asarray(original))


def test_scans_stay_nearly_straight_and_whole(samples: Path) -> None:
    """Scans: any detected skew is small (at most 2 degrees; the worst real one is a
    1.3-degree single-lead strip) and at least 90 % of the scanned area is kept. No note
    about a sheet's edges: a scan has none to find (nor do the crumpled, stained synthetic
    scans, whose dark creases are not a desk)."""
    kinds = _kinds(samples)
    scans = [
        name
        for name, kind in kinds.items()
        if kind in ("scan", "synthetic-distorted")
        and not name.endswith((".json", ".txt"))
        and "rotated" not in name
    ]
    assert len(scans) >= 15
    for name in scans:
        original = load_image(samples / name).image
        ecg = auto_preprocess(original)
        width, height = ecg.output_size
        assert abs(_deskew(ecg)) <= 2.0, (name, ecg.steps_json())
        assert "perspective" not in [s.op for s in ecg.steps], name
        assert width * height >= 0.9 * original.width * original.height, (name, ecg.steps_json())
        assert ecg.notes == (), name


def test_cart_pdfs_are_left_as_rendered(samples: Path) -> None:
    """Rendered PDF pages are born straight: no step at all (no spurious 0.1-degree turns)."""
    pdfs = sorted((samples / "pdf").glob("*.pdf"))
    assert pdfs
    for path in pdfs:
        loaded = load_image(path)
        assert loaded.page == 0 and loaded.page_count >= 1, path.name  # the first page opens
        ecg = auto_preprocess(loaded.image)
        assert ecg.steps == (), (path.name, ecg.steps_json())
        assert ecg.notes == (), path.name


def test_photos_are_processed_without_losing_the_ecg(samples: Path) -> None:
    """Phone photos (cropped inside the sheet, shadows, creases): small corrections only;
    the output keeps at least 85 % of the photo and stays landscape."""
    kinds = _kinds(samples)
    photos = [name for name, kind in kinds.items() if kind == "photo"]
    assert photos
    for name in photos:
        original = load_image(samples / name).image
        ecg = auto_preprocess(original)
        width, height = ecg.output_size
        assert width * height >= 0.85 * original.width * original.height, (name, ecg.steps_json())
        assert abs(_deskew(ecg)) <= 3.0, (name, ecg.steps_json())
        assert (width > height) == (original.width > original.height), name
