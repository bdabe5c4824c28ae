"""The Evaluate dialog, driven like a user: choose a set, start, watch, cancel, read the score."""

from __future__ import annotations

import csv
import json
import multiprocessing
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ecgviewer.core.imaging.synthetic import render
from ecgviewer.core.settings import ModelSettings
from ecgviewer.gui.evaluate_dialog import EvaluateDialog
from ecgviewer.gui.evaluation_run import progress_text
from ecgviewer.gui.tasks import wait_for_tasks
from tests.support import models

QUESTION = "Which diagnostic classes are present? Options: NORM, MI, STTC, CD, HYP."
GOLD = ["NORM", "STTC", "MI, CD", "HYP", "NORM", "CD"]
RUN_TIMEOUT_MS = 240_000
CANCELLED = re.compile(r"Cancelled after (\d+) items?; run again with Resume to continue\.")


def labelled_set(folder: Path, count: int = 3) -> Path:
    """`count` rendered ECGs in a folder with a CSV listing (image, question, answer)."""
    folder.mkdir()
    with (folder / "set.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "question", "answer"])
        for index in range(count):
            name = f"ecg{index}.png"
            render(width_px=900, heart_rate=60 + 10 * index).image.save(folder / name)
            writer.writerow([name, QUESTION, GOLD[index % len(GOLD)]])
    return folder


def inference_workers() -> list[multiprocessing.process.BaseProcess]:
    """The model worker processes started by this test process that are still alive."""
    return [p for p in multiprocessing.active_children() if p.name == "ecgviewer-inference"]


@pytest.fixture
def dialog(qtbot: QtBot) -> Iterator[EvaluateDialog]:
    """The dialog with the small real model pair filled in, as from the settings."""
    model = ModelSettings(
        text_path=str(models.text_model_path()), mmproj_path=str(models.projector_path())
    )
    shown = EvaluateDialog(model)
    qtbot.addWidget(shown)
    shown.show()
    yield shown
    shown.shutdown()
    wait_for_tasks()


def choose(dialog: EvaluateDialog, dataset: Path, *, max_tokens: int) -> None:
    dialog.form.dataset_edit.setText(str(dataset))
    dialog.form.task_combo.setCurrentIndex(dialog.form.task_combo.findData("ptb-xl-super"))
    dialog.form.max_tokens_spin.setValue(max_tokens)


def result_ids(path: Path) -> list[str]:
    return [json.loads(line)["question_id"] for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_a_run_ends_with_the_score_and_one_line_per_item(
    dialog: EvaluateDialog, qtbot: QtBot, tmp_path: Path
) -> None:
    choose(dialog, labelled_set(tmp_path / "set"), max_tokens=12)
    results = tmp_path / "set-results.jsonl"
    assert dialog.form.output_edit.text() == str(results)  # defaults to beside the set
    shown: list[str] = []
    dialog.progress_bar.valueChanged.connect(lambda _: shown.append(dialog.progress_bar.format()))
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.cancel_button.isEnabled() and not dialog.start_button.isEnabled()
    summary = dialog.summary_view
    qtbot.waitUntil(lambda: "Hamming loss" in summary.toPlainText(), timeout=RUN_TIMEOUT_MS)
    text = summary.toPlainText()
    for name in ("Run complete", "Macro AUC", "Macro F1", "Hamming loss", "Per class"):
        assert name in text
    assert summary.isReadOnly()
    assert result_ids(results) == ["1", "2", "3"]
    assert dialog.status_label.text() == "Done: 3 of 3 answered."
    assert any(
        re.fullmatch(r"[12] of 3, (less than a minute|about \d+ min) left", s) for s in shown
    )
    assert inference_workers() == []
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    dialog.save_report(tmp_path / "run.pdf")
    qtbot.waitUntil(lambda: "Report written" in dialog.status_label.text(), timeout=60_000)
    assert (tmp_path / "run.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def test_cancel_stops_after_an_item_and_resume_finishes_the_run(
    dialog: EvaluateDialog, qtbot: QtBot, tmp_path: Path
) -> None:
    choose(dialog, labelled_set(tmp_path / "set", count=4), max_tokens=16)
    results = tmp_path / "set-results.jsonl"
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= 1, timeout=RUN_TIMEOUT_MS)
    assert len(inference_workers()) == 1  # the run's own model worker
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
    found = CANCELLED.fullmatch(dialog.status_label.text())
    assert found, dialog.status_label.text()
    answered = int(found.group(1))
    assert 1 <= answered < 4
    assert len(result_ids(results)) == answered
    assert "Run cancelled" in dialog.summary_view.toPlainText()
    assert inference_workers() == []
    assert dialog.form.resume_check.isChecked()  # ready to continue
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: "Macro AUC" in dialog.summary_view.toPlainText(), timeout=RUN_TIMEOUT_MS
    )
    assert result_ids(results) == ["1", "2", "3", "4"]
    assert f"{answered} already done" in dialog.summary_view.toPlainText()


@pytest.mark.slow
def test_closing_during_a_run_stops_it_then_closes(
    dialog: EvaluateDialog, qtbot: QtBot, tmp_path: Path
) -> None:
    choose(dialog, labelled_set(tmp_path / "set", count=4), max_tokens=16)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= 1, timeout=RUN_TIMEOUT_MS)
    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()  # never blocks: it stays open while the worker shuts down
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=60_000)
    assert not dialog.running
    assert inference_workers() == []


def test_a_bad_dataset_is_reported_and_nothing_crashes(qtbot: QtBot, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("image,question\necg.png,What is the rhythm?\n")  # no answer column
    dialog = EvaluateDialog(
        ModelSettings(text_path=str(tmp_path / "m.gguf"), mmproj_path=str(tmp_path / "p.gguf"))
    )
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.form.dataset_edit.setText(str(bad))
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: dialog.findChild(QMessageBox, "errorDialog") is not None, timeout=20_000
    )
    box = dialog.findChild(QMessageBox, "errorDialog")
    assert "answer" in box.text() + box.informativeText()
    assert not dialog.running
    assert dialog.start_button.isEnabled()
    assert dialog.status_label.text().startswith("The evaluation stopped:")
    assert inference_workers() == []  # stopped before any model was loaded
    box.close()


def test_an_existing_results_file_needs_resume(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = EvaluateDialog(ModelSettings(text_path="m.gguf", mmproj_path="p.gguf"))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.form.dataset_edit.setText(str(tmp_path / "set.csv"))
    (tmp_path / "set-results.jsonl").write_text('{"question_id": "1"}\n')
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    box = dialog.findChild(QMessageBox, "errorDialog")
    assert box is not None and "Resume" in box.informativeText()
    assert not dialog.running
    box.close()


def test_start_waits_while_the_window_is_generating(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = EvaluateDialog(ModelSettings(text_path="m.gguf", mmproj_path="p.gguf"))
    qtbot.addWidget(dialog)
    assert not dialog.start_button.isEnabled()  # no set chosen yet
    dialog.form.dataset_edit.setText(str(tmp_path / "set"))
    assert dialog.start_button.isEnabled()
    dialog.set_main_model_busy(True)
    assert not dialog.start_button.isEnabled()
    assert "generating" in dialog.start_button.toolTip()
    dialog.set_main_model_busy(False)
    assert dialog.start_button.isEnabled()
    assert "second time" in dialog.info_label.text()  # the memory cost is stated


def test_progress_text_estimates_the_time_left() -> None:
    assert progress_text(0, 10, first_done=0, elapsed_s=5.0) == (
        "0 of 10, estimating the time left"
    )
    assert progress_text(2, 10, first_done=0, elapsed_s=60.0) == "2 of 10, about 4 min left"
    assert progress_text(7, 10, first_done=5, elapsed_s=20.0) == (
        "7 of 10, less than a minute left"
    )
    assert progress_text(10, 10, first_done=0, elapsed_s=60.0) == "10 of 10"
    assert progress_text(1, 200, first_done=0, elapsed_s=60.0) == "1 of 200, about 3 h 19 min left"
