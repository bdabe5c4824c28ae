"""`ecgviewer interpret --follow-up` and `ecgviewer chat`: a conversation on the command line."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from ecgviewer import DISCLAIMER
from tests.model.test_cli_interpret import REPO, ecgviewer, pair, scan

pytestmark = pytest.mark.slow
__all__ = ["scan"]  # the fixture, shared with test_cli_interpret

FOLLOW_UPS = ("What is the heart rate?", "Is the axis normal?")


def test_follow_ups_are_asked_in_order_and_reported_with_their_times(
    scan: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.pdf"
    result = ecgviewer("interpret", str(scan), *pair(), "--max-tokens", "8", "--ctx", "1024",
                       "--prompt", "Describe the rhythm.", "--follow-up", FOLLOW_UPS[0],
                       "--follow-up", FOLLOW_UPS[1], "--json", "--pdf", str(report))  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    turns = data["turns"]
    assert [turn["question"] for turn in turns] == ["Describe the rhythm.", *FOLLOW_UPS]
    assert data["prompt"] == "Describe the rhythm." and data["text"] == turns[0]["text"]
    for turn in turns:
        assert turn["stop_reason"] in ("eos", "length") and turn["text"]
        assert turn["asked_at"] <= turn["finished_at"]  # ISO 8601 with the same offset
        assert turn["timings"]["total_ms"] > 0
    for before, after in itertools.pairwise(turns):
        assert before["finished_at"] <= after["asked_at"]
    pdf = " ".join("".join(page.extract_text() for page in PdfReader(report).pages).split())
    for turn in turns:
        assert turn["question"] in pdf
        assert f"Asked {turn['asked_at']}" in pdf  # when it was asked, not when it ended


def universal(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def test_chat_streams_each_answer_after_the_disclaimer(scan: Path) -> None:
    questions = "Describe the rhythm.\nWhat is the heart rate?\n\nnever asked\n"
    result = subprocess.run(
        [sys.executable, "-m", "ecgviewer", "chat", str(scan), *pair(), "--max-tokens", "8",
         "--ctx", "1024", "--no-preprocess"],
        cwd=REPO, input=questions, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"[{DISCLAIMER}]\n")  # before anything else
    assert "not an ECG model" in result.stderr  # the test model: the same note as interpret
    # the same questions through interpret: the same greedy answers, one after the other
    expected = ecgviewer("interpret", str(scan), *pair(), "--max-tokens", "8", "--ctx", "1024",
                         "--no-preprocess", "--prompt", "Describe the rhythm.",
                         "--follow-up", "What is the heart rate?", "--json")  # fmt: skip
    assert expected.returncode == 0, expected.stderr
    # (stdout is read as text: its line ends come back as "\n")
    first, second = (universal(turn["text"]) for turn in json.loads(expected.stdout)["turns"])
    answers = result.stdout[len(f"[{DISCLAIMER}]\n") :]
    assert answers == f"{first}\n{second}\n"  # two answers, and nothing after the empty line
