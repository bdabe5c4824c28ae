"""Shared fixtures for the evaluation-mode tests (no Qt, no model)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SAMPLE_IMAGE = REPO / "resources" / "samples" / "sample-ecg.png"


@pytest.fixture
def ecg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Per-user folders (logs) inside the test's temporary folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("ECGVIEWER_HOME", str(home))
    return home


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """A dataset folder holding two copies of the sample ECG image."""
    folder = tmp_path / "set"
    (folder / "images").mkdir(parents=True)
    shutil.copy(SAMPLE_IMAGE, folder / "images" / "a.png")
    shutil.copy(SAMPLE_IMAGE, folder / "images" / "b.png")
    return folder
