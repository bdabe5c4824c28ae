"""Sample cases and PDF readers shared by the report tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader

from ecgviewer.core.case import (
    Case,
    DecodingSettings,
    ModelIdentity,
    Provenance,
    SourceInfo,
    StopReason,
    Timings,
    Turn,
)

Build = Callable[..., Path]
"""The `build` fixture: (case, name="report.pdf", page_size="A4", reading_time=None) -> path."""

MODEL_SHA = "3f1a9c0e5b7d2468ace13579bdf02468ace13579bdf02468ace13579bdf0246a"
MMPROJ_SHA = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
SCAN_SHA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

ANSWER = """**Rhythm:** sinus rhythm, about 72 beats per minute.

# Findings
- PR interval 160 ms
- QRS duration 88 ms, axis normal
* No ST elevation; check <V1> & V2

Impression: normal ECG."""


def provenance(*, is_ecg_model: bool = True, fallback_template: bool = False) -> Provenance:
    """A known MedGemma-ECG pair, or the small non-ECG test model."""
    if not is_ecg_model:
        return Provenance(
            model=ModelIdentity("/m/gemma-3-270m-Q4_K_M.gguf", MODEL_SHA, "gemma3", "Q4_K_M"),
            mmproj=ModelIdentity("/m/tiny-mmproj.gguf", MMPROJ_SHA, "clip", "F16"),
            fallback_template=fallback_template,
            is_ecg_model=False,
        )
    return Provenance(
        model=ModelIdentity("/m/medgemma-ecg-Q4_K_M.gguf", MODEL_SHA, "gemma3", "Q4_K_M", 2 << 30),
        mmproj=ModelIdentity(
            "/m/mmproj-medgemma-ecg-F16.gguf", MMPROJ_SHA, "clip", "F16", 850 << 20
        ),
        known_pair="medgemma-ecg-4b Q4_K_M",
        fallback_template=fallback_template,
    )


def turn(
    question: str = "Describe this ECG.",
    answer: str = ANSWER,
    stop_reason: StopReason | None = "eos",
    prov: Provenance | None = None,
) -> Turn:
    """One answered question with timings and provenance."""
    return Turn(
        question=question,
        answer=answer,
        stop_reason=stop_reason,
        prompt_preset="describe",
        prompt_version="1",
        started_at="2025-06-01T10:15:00+02:00",
        timings=Timings(1200.0, 5400.0, 800.0, 6500.0, 9000.0, 180, 16700.0),
        provenance=prov or provenance(),
        decoding=DecodingSettings(temperature=0.0, seed=42, max_tokens=512),
    )


def make_case(thread: list[Turn] | None = None, **changes: object) -> Case:
    """A case with one complete answer, study fields and notes, changed by `changes`."""
    case = Case(
        source=SourceInfo(path="/scans/ecg-0001.png", name="ecg-0001.png", sha256=SCAN_SHA),
        steps=[
            {"op": "deskew", "angle_deg": -4.0, "source": "auto"},
            {"op": "crop", "box": [0, 0, 2200, 1700], "source": "manual"},
        ],
        thread=[turn()] if thread is None else thread,
        notes="Agree with sinus rhythm. Repeat ECG in one week.",
        study={"patient_id": "P-0042", "name": "Jane Doe", "sex": "F"},
        created_at="2025-06-01T10:14:00+02:00",
    )
    for key, value in changes.items():
        setattr(case, key, value)
    return case


def pages_text(path: Path) -> list[str]:
    """The text of each page, extracted with pypdf."""
    return [page.extract_text() or "" for page in PdfReader(path).pages]


def pdftotext(path: Path) -> str:
    """The whole document's text from poppler's pdftotext (a second, independent reader)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout.decode("utf-8")


def flat(text: str) -> str:
    """Text with all runs of white space made single spaces (line wraps vanish)."""
    return " ".join(text.split())
