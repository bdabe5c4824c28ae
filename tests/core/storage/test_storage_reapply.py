"""Steps stored in the history, re-applied to the stored scan, give the same pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgviewer.core.imaging.ecgimage import EcgImage
from ecgviewer.core.imaging.loading import load_image
from ecgviewer.core.imaging.synthetic import render
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.reopening import reopen_case
from ecgviewer.core.storage import CaseHistory
from ecgviewer.core.workspace import open_case


def rotated_scan(path: Path, angle: float) -> Path:
    sheet = render(width_px=1200).image
    sheet.rotate(angle, expand=True, fillcolor=(255, 255, 255)).save(path)
    return path


def test_steps_re_applied_to_the_stored_scan_give_identical_pixels(
    paths: AppPaths, tmp_path: Path
) -> None:
    opened = open_case(rotated_scan(tmp_path / "rotated.png", 5.0))
    opened = opened.with_image(opened.image.with_crop((40.25, 30.5, 1100.75, 880.125)))
    assert {step["op"] for step in opened.case.steps} >= {"deskew", "crop"}
    first = np.asarray(opened.result)
    with CaseHistory.open(paths) as history:
        case_id = history.save_case(opened.case, Path(opened.case.source.path))

    with CaseHistory.open(paths) as history:  # as after a restart
        loaded = history.load_case(case_id)
        stored = load_image(history.source_path(case_id), page=loaded.source.page)
        reopened = reopen_case(history, case_id)

    assert loaded.steps == opened.steps
    again = EcgImage.from_json(stored.image, loaded.steps).result
    assert np.array_equal(np.asarray(again), first)
    assert np.array_equal(np.asarray(reopened.result), first)
    assert reopened.model_png() == opened.model_png()  # the model sees the same bytes
