"""Images and a report builder for the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ecgviewer.core.case import Case
from ecgviewer.core.imaging.synthetic import render
from ecgviewer.core.report import write_report
from tests.core.report.samples import Build


@pytest.fixture(scope="session")
def ecg_image() -> Image.Image:
    """The synthetic 12-lead ECG (pink grid), standing in for the straightened image."""
    return render().image


@pytest.fixture(scope="session")
def original_image(ecg_image: Image.Image) -> Image.Image:
    """The 'scan as opened': the same ECG, slightly rotated."""
    return ecg_image.rotate(4, expand=True, fillcolor="white")


@pytest.fixture
def build(ecg_image: Image.Image, original_image: Image.Image, tmp_path: Path) -> Build:
    """Write the report of a case into a temporary folder and return its path (A4 by default)."""

    def _build(
        case: Case,
        name: str = "report.pdf",
        page_size: str = "A4",
        reading_time: str | None = None,
    ) -> Path:
        out = tmp_path / name
        return write_report(
            case, ecg_image, original_image, out, page_size=page_size, reading_time=reading_time
        )

    return _build
