"""Shared test setup: every test runs with its own ECGVIEWER_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLES = REPO.parent / "shared" / "ecg-samples"


@pytest.fixture(autouse=True)
def ecgviewer_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Per-user folders in a temporary place, so tests never touch the real ones."""
    home = tmp_path_factory.mktemp("ecgviewer-home")
    monkeypatch.setenv("ECGVIEWER_HOME", str(home))
    return home


@pytest.fixture
def shared_samples() -> Path:
    """../shared/ecg-samples, or a clean skip where it is absent."""
    if not SHARED_SAMPLES.is_dir():
        pytest.skip("../shared/ecg-samples is not present")
    return SHARED_SAMPLES
