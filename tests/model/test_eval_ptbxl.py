"""`ecgviewer eval run PTBXL_FOLDER --task ptb-xl-super` end to end with the small real model.

The folder is PTB-XL-shaped (its two tables, real WFDB records written by wfdb);
each record is drawn as a page and answered by Gemma 3 270M with a random
projector, so the scores mean nothing: the test checks the run, the resume, the
labels and the score report's structure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import models
from tests.support.ptbxl_folder import RECORDS, record_name, write_ptbxl

pytestmark = pytest.mark.slow
pytest.importorskip("wfdb")
REPO = Path(__file__).resolve().parents[2]


def ecgviewer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecgviewer", *args],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_eval_run_on_a_ptbxl_folder_resumes_and_scores(tmp_path: Path) -> None:
    folder = write_ptbxl(tmp_path / "ptb-xl")
    out = tmp_path / "ptbxl-results.jsonl"
    run = ["eval", "run", str(folder), "--task", "ptb-xl-super", "--model",
           str(models.text_model_path()), "--mmproj", str(models.projector_path()),
           "--out", str(out), "--max-tokens", "12"]  # fmt: skip

    first = ecgviewer(*run)
    assert first.returncode == 0, first.stderr
    assert "PTB-XL fold 10: 3 of 4 records" in first.stderr  # ecg_id 3 has no super-class
    assert "Run complete: 3 answered now, 0 already done" in first.stdout
    assert "Macro AUC" in first.stdout  # scored after the run
    resumed = ecgviewer(*run, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "Run complete: 0 answered now, 3 already done" in resumed.stdout

    rows = [json.loads(line) for line in out.read_text().splitlines()]
    gold = {str(i): g for i, _codes, fold, _rates, g in RECORDS if fold == 10 and g}
    assert {row["question_id"]: row["gold"] for row in rows} == gold
    assert [row["image"] for row in rows] == [
        record_name(1, 500), record_name(2, 500), record_name(4, 100)
    ]  # fmt: skip
    for row in rows:
        assert "error" not in row
        assert row["timings"]["decode_tokens"] > 0 and row["timings"]["draw_ms"] > 0
    meta = json.loads(out.with_name(out.name + ".meta.json").read_text())
    assert meta["ptbxl"]["fold"] == 10 and len(meta["sessions"]) == 2

    score = ecgviewer("eval", "score", str(out), "--task", "ptb-xl-super", "--json")
    assert score.returncode == 0, score.stderr
    report = json.loads(score.stdout)
    assert report["n_items"] == 3
    assert set(report["per_class"]) == {"NORM", "MI", "STTC", "CD", "HYP"}  # all in gold
    supports = {name: c["support"] for name, c in report["per_class"].items()}
    assert supports == {"NORM": 1, "MI": 1, "STTC": 1, "CD": 1, "HYP": 1}
    for key in ("macro_f1", "macro_auc", "hamming_loss", "accuracy", "strict"):
        assert key in report

    pdf = tmp_path / "ptbxl.pdf"
    written = ecgviewer("eval", "report", str(out), "--task", "ptb-xl-super", "--out", str(pdf))
    assert written.returncode == 0, written.stderr
    assert pdf.read_bytes().startswith(b"%PDF")
