"""The model dialog: the checked pair's facts and expected memory, and the settings it loads."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import ModelSettings
from ecgviewer.gui.model_dialog import ModelDialog
from ecgviewer.gui.tasks import wait_for_tasks
from tests.support import models


def test_the_dialog_shows_expected_memory_and_loads_with_the_chosen_options(
    qtbot: QtBot,
) -> None:
    chosen = ModelSettings(text_path=str(models.text_model_path()),
                           mmproj_path=str(models.projector_path()), n_threads=2)  # fmt: skip
    dialog = ModelDialog(app_paths().ensure(), chosen)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(dialog.load_button.isEnabled, timeout=30_000)  # checked in the background
    facts = dialog.facts_label.text()
    assert "Expected memory" in facts and "working memory 512 MB" in facts
    assert "weights 241 MB" in facts  # the 270M test model, mapped once

    dialog.repack_box.setChecked(True)  # repacked copies beside the mapped file
    qtbot.waitUntil(lambda: "weights 483 MB" in dialog.facts_label.text(), timeout=30_000)
    qtbot.waitUntil(dialog.load_button.isEnabled, timeout=30_000)
    dialog.mmap_box.setChecked(False)
    qtbot.waitUntil(lambda: "weights 241 MB" in dialog.facts_label.text(), timeout=30_000)
    qtbot.waitUntil(dialog.load_button.isEnabled, timeout=30_000)
    dialog.cache_box.setValue(512)

    with qtbot.waitSignal(dialog.load_requested, timeout=5_000) as request:
        qtbot.mouseClick(dialog.load_button, Qt.MouseButton.LeftButton)
    text, mmproj, settings = request.args
    assert (text, mmproj) == (chosen.text_path, chosen.mmproj_path)
    assert settings.repack_weights is True and settings.use_mmap is False
    assert settings.prefix_cache_mb == 512
    dialog.close()
    wait_for_tasks()
