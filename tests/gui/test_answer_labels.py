"""The panel and the PDF report say the same words about how an answer ended."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from ecgviewer.core.case import StopReason
from ecgviewer.core.imaging.synthetic import render
from ecgviewer.core.labels import NON_ECG_LABEL
from ecgviewer.core.report import write_report
from ecgviewer.gui.interpretation_panel import InterpretationPanel
from tests.core.report.samples import flat, make_case, pages_text, provenance, turn

ENDINGS: list[tuple[StopReason, str]] = [
    ("cancelled", "stopped by the user"),
    ("length", "reached the token limit"),
    ("failed", "failed"),
    ("interrupted", "interrupted"),
]


@pytest.fixture(scope="module")
def ecg() -> Image.Image:
    return render().image


def report_text(tmp_path: Path, ecg: Image.Image, stop_reason: StopReason) -> str:
    case = make_case([turn("Rate?", "The rate is about", stop_reason)])
    path = write_report(case, ecg, ecg, tmp_path / "r.pdf", page_size="A4")
    return flat(" ".join(pages_text(path)))


@pytest.mark.parametrize(("stop_reason", "words"), ENDINGS)
def test_an_unfinished_answer_is_named_alike_in_the_panel_and_the_report(
    qtbot: QtBot, tmp_path: Path, ecg: Image.Image, stop_reason: StopReason, words: str
) -> None:
    panel = InterpretationPanel()
    qtbot.addWidget(panel)
    panel.show_thread([turn("Rate?", "The rate is about", stop_reason)])
    panel.render_now()
    assert f"[{words[:1].upper()}{words[1:]} - incomplete]" in panel.thread_text()
    assert f"INCOMPLETE - {words}" in report_text(tmp_path, ecg, stop_reason)


def test_a_whole_answer_is_marked_in_neither(
    qtbot: QtBot, tmp_path: Path, ecg: Image.Image
) -> None:
    panel = InterpretationPanel()
    qtbot.addWidget(panel)
    panel.show_thread([turn("Rate?", "The rate is 72/min.", "eos")])
    panel.render_now()
    assert "incomplete" not in panel.thread_text().lower()
    assert "INCOMPLETE" not in report_text(tmp_path, ecg, "eos")


def test_a_non_ecg_model_is_named_alike(qtbot: QtBot, tmp_path: Path, ecg: Image.Image) -> None:
    panel = InterpretationPanel()
    qtbot.addWidget(panel)
    panel.set_ecg_model(False)
    assert panel.draft_label.text() == NON_ECG_LABEL
    case = make_case([turn(answer="Paris.", prov=provenance(is_ecg_model=False))])
    path = write_report(case, ecg, ecg, tmp_path / "r.pdf", page_size="A4")
    assert NON_ECG_LABEL in flat(" ".join(pages_text(path)))
