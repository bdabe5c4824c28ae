"""An orientation the pipeline only suggests: the window asks, one click turns the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from ecgviewer.core.imaging.loading import load_image
from ecgviewer.core.imaging.pipeline import auto_preprocess
from ecgviewer.gui.main_window import MainWindow
from tests.gui.test_history import click, open_scan, start_window, windows

__all__ = ["windows"]

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "ecg-samples" / "ecg-image-kit-real"


def turned_page_with_a_suggestion(folder: Path) -> tuple[Path, int]:
    """A real page turned so that the detector suggests, rather than applies, the way back."""
    for path in sorted(REAL.glob("ecg000*")):
        upright = np.asarray(load_image(path, 0).image)
        for turns in (1, 2, 3):
            turned = Image.fromarray(np.ascontiguousarray(np.rot90(upright, -turns)))
            found = auto_preprocess(turned).orientation_suggestion
            if found is not None and (found.params["turns_cw"] + turns) % 4 == 0:
                turned.save(folder / f"turned-{path.stem}.png")
                return folder / f"turned-{path.stem}.png", turns
    pytest.skip("the detector turns every turned sample by itself: nothing to suggest")


def test_a_suggested_turn_is_asked_and_done_with_one_click(
    windows: list[MainWindow], qtbot: QtBot, tmp_path: Path
) -> None:
    if not REAL.is_dir():
        pytest.skip("shared ECG samples are not available here")
    page, turns = turned_page_with_a_suggestion(tmp_path)
    window = start_window(qtbot, windows)
    case = open_scan(window, qtbot, page)
    bar = window.case_header.suggestion_bar
    assert bar.isVisible() and "turn" in bar.label.text()
    assert not any(step.op == "rotate90" for step in case.image.steps)  # asked, not done
    click(qtbot, bar.accept_button)
    qtbot.waitUntil(lambda: any(s.op == "rotate90" for s in window.cases[0].image.steps))
    turn = next(s for s in window.cases[0].image.steps if s.op == "rotate90")
    assert (turn.params["turns_cw"] + turns) % 4 == 0  # back upright
    assert not bar.isVisible()


def test_a_sheet_not_found_with_confidence_is_said_above_the_image(
    windows: list[MainWindow], qtbot: QtBot, tmp_path: Path
) -> None:
    photo = Path(__file__).resolve().parents[1] / "data" / "photos" / "p2p_01109_dark_table.jpg"
    with Image.open(photo) as image:  # the bottom 40 % cut away: too little outline is left
        image.crop((0, 0, image.width, int(image.height * 0.6))).save(tmp_path / "cut.png")
    window = start_window(qtbot, windows)
    case = open_scan(window, qtbot, tmp_path / "cut.png")
    note = window.case_header.notes_label
    assert case.image.notes and note.isVisible()
    assert "not found with confidence" in note.text() and "Corners" in note.text()
    assert not any(step.op == "perspective" for step in case.image.steps)  # left unwarped
