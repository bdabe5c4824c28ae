"""Model > Import in the window: drop a checkpoint folder, read the facts, import, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ecgviewer.gui.import_dialog import ImportDialog
from ecgviewer.gui.main_window import MainWindow
from tests.gui.conftest import drop_files
from tests.support.hf_checkpoint import write_checkpoint

pytestmark = pytest.mark.slow


def the_dialog() -> ImportDialog:
    found = [w for w in QApplication.allWidgets() if isinstance(w, ImportDialog) and w.isVisible()]
    assert len(found) == 1, found
    return found[0]


def choose(dialog: ImportDialog, quant: str) -> None:
    dialog.quant_box.setCurrentIndex(dialog.quant_box.findData(quant))


def test_a_dropped_checkpoint_is_imported_listed_and_loaded(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    folder = write_checkpoint(tmp_path / "tiny-gemma3", layout="new", transformers5=True)
    drop_files(window, [folder])
    dialog = the_dialog()
    qtbot.waitUntil(lambda: "can be imported" in dialog.facts_label.text(), timeout=20_000)
    facts = dialog.facts_label.text()
    for expected in ("Gemma3ForConditionalGeneration", "BF16", "newer tensor names",
                     "transformers 5 config", "free", "Memory to run"):  # fmt: skip
        assert expected in facts, expected
    assert "Q4_K_M - " in dialog.quant_box.itemText(0)  # sizes are shown per quantization
    choose(dialog, "Q8_0")
    assert "not used: llama.cpp uses an importance matrix only for K-quants" in (
        dialog.facts_label.text()
    )
    assert not dialog.imatrix_box.isEnabled()
    dialog.import_button.click()
    qtbot.waitUntil(lambda: "Imported" in dialog.stage_label.text(), timeout=120_000)
    assert "Conversion check" in dialog.report_label.text()
    assert "Perplexity" in dialog.report_label.text()
    out = window.paths.user_models_dir
    assert (out / "tiny-gemma3-Q8_0.gguf").is_file() and (
        out / "mmproj-tiny-gemma3-F16.gguf"
    ).is_file()
    assert "tiny-gemma3-Q8_0.gguf" in window.paths.user_manifest_file.read_text()
    qtbot.waitUntil(window.panel.interpret_button.isEnabled, timeout=60_000)  # loaded
    assert window.settings.model.text_path.endswith("tiny-gemma3-Q8_0.gguf")
    dialog.close()


def test_cancel_leaves_the_output_folder_as_it_was(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    folder = write_checkpoint(tmp_path / "tiny-gemma3", layout="old")
    out = tmp_path / "out"
    out.mkdir()
    window.model_control.show_import_dialog(folder)
    dialog = the_dialog()
    dialog.out_edit.setText(str(out))
    dialog.out_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: "can be imported" in dialog.facts_label.text(), timeout=20_000)
    choose(dialog, "Q4_K_M")
    dialog.import_button.click()
    qtbot.waitUntil(lambda: "Stage 3 of 5" in dialog.stage_label.text(), timeout=60_000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: "Import cancelled" in dialog.stage_label.text(), timeout=30_000)
    assert list(out.iterdir()) == []
    assert dialog.import_button.isVisible() and not dialog.cancel_button.isVisible()
    dialog.close()


def test_a_folder_that_is_not_a_checkpoint_says_why(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    folder = write_checkpoint(tmp_path / "tiny-gemma3", layout="old")
    (folder / "tokenizer.model").unlink()
    window.model_control.show_import_dialog(folder)
    dialog = the_dialog()
    qtbot.waitUntil(lambda: "no tokenizer" in dialog.facts_label.text(), timeout=20_000)
    assert not dialog.import_button.isEnabled()
    dialog.close()


def test_the_time_left_is_said_only_once_the_pace_is_known() -> None:
    from ecgviewer.gui.import_job import eta_text

    assert eta_text(1.0, 0.5) == ""  # too early to tell
    assert eta_text(30.0, 0.01) == ""
    assert eta_text(10.0, 0.5) == "about 10 s left"
    assert eta_text(120.0, 0.25) == "about 6 min left"
