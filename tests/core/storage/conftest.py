"""Shared fixtures for the case-history tests: a private ECGVIEWER_HOME and full cases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
from ecgviewer.core.paths import HOME_ENV, AppPaths, app_paths
from ecgviewer.core.storage import CaseHistory

REPO_ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("storage_worker.py")
FIXTURES = Path(__file__).with_name("fixtures")


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppPaths:
    """App paths below a temporary ECGVIEWER_HOME."""
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    return app_paths()


@pytest.fixture
def history(paths: AppPaths) -> Iterator[CaseHistory]:
    """An open case history in the temporary home, closed after the test."""
    opened = CaseHistory.open(paths)
    yield opened
    opened.close()


def provenance() -> Provenance:
    """A model pair identity like the runtime records it."""
    return Provenance(
        model=ModelIdentity(
            path="/models/medgemma-ecg-q4_k_m.gguf",
            sha256="a" * 64,
            architecture="gemma3",
            quantization="Q4_K_M",
            size_bytes=2_489_757_856,
        ),
        mmproj=ModelIdentity(
            path="/models/mmproj-f16.gguf",
            sha256="b" * 64,
            architecture="clip",
            quantization="F16",
            size_bytes=851_251_104,
        ),
        known_pair="medgemma-ecg-4b",
    )


def finished_turn(question: str, answer: str, stop_reason: StopReason = "eos") -> Turn:
    """A complete turn with timings, provenance and decoding settings."""
    return Turn(
        question=question,
        answer=answer,
        stop_reason=stop_reason,
        prompt_preset="rhythm",
        prompt_version="3",
        started_at="2026-11-23T18:01:02+01:00",
        finished_at="2026-11-23T18:01:04+01:00",
        timings=Timings(
            image_encode_ms=412.5,
            prompt_prefill_ms=96.125,
            first_token_ms=530.0,
            decode_ms=1234.5,
            decode_tokens=42,
            total_ms=1800.0,
        ),
        provenance=provenance(),
        decoding=DecodingSettings(temperature=0.2, seed=7, max_tokens=256, n_threads=4),
    )


@pytest.fixture
def make_case() -> Callable[..., Case]:
    """Build a full case: source, float-laden steps, two turns, notes, study fields."""

    def build(name: str = "ecg-0042.png", patient_id: str = "P-0042") -> Case:
        return Case(
            source=SourceInfo(path=f"/scans/{name}", name=name, page=1, page_count=3, format="png"),
            steps=[
                {"op": "rotate", "degrees": 90},
                {"op": "deskew", "angle": 0.1 + 0.2, "fill": [255, 255, 255]},
                {"op": "crop", "box": [0.125, 1e-300, 0.875, 2.5e-7], "keep": True},
                {"op": "contrast", "gamma": 1.0 / 3.0, "note": "Ärztin – ok"},
            ],
            thread=[
                finished_turn("What is the rhythm?", "Sinus rhythm, 72/min."),
                finished_turn("Any ST changes?", "1 mm ST depression in V5–V6.", "length"),
            ],
            notes="Compare with the previous ECG.\nChest pain since 2 h.",
            study={"patient_id": patient_id, "name": "Zoë Müller", "sex": "F"},
            exported_pdfs=["/reports/ecg-0042.pdf"],
        )

    return build


@pytest.fixture
def make_turn() -> Callable[..., Turn]:
    """Build a complete turn: `make_turn(question, answer, stop_reason="eos")`."""
    return finished_turn


def worker_env(paths: AppPaths) -> dict[str, str]:
    """Environment for a worker process: same ECGVIEWER_HOME, this checkout importable."""
    env = dict(os.environ)
    env[HOME_ENV] = str(paths.data_dir.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def start_worker(paths: AppPaths) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `storage_worker.py <args>` in separate Python processes; all killed at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            env=worker_env(paths),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
