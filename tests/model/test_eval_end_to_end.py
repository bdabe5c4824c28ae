"""`ecgviewer eval run`, `score` and `compare` end to end with the small real model."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ecgviewer.core.imaging.synthetic import render
from tests.support import models

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def labelled_set(folder: Path) -> Path:
    """Three rendered ECGs with PTB-XL super-class style questions and gold labels."""
    folder.mkdir()
    rows = []
    for index, (rate, gold) in enumerate([(60, "NORM"), (110, "STTC"), (75, "MI, CD")]):
        name = f"ecg{index}.png"
        render(width_px=900, heart_rate=rate).image.save(folder / name)
        question = "Which diagnostic classes are present? Options: NORM, MI, STTC, CD, HYP."
        rows.append({"id": f"q{index}", "image": name, "question": question, "answer": gold})
    with (folder / "set.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "image", "question", "answer"])
        writer.writeheader()
        writer.writerows(rows)
    return folder


def ecgviewer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecgviewer", *args],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_run_score_and_compare(tmp_path: Path) -> None:
    dataset = labelled_set(tmp_path / "set")
    pair = ["--model", str(models.text_model_path()), "--mmproj", str(models.projector_path())]
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    run = ecgviewer("eval", "run", str(dataset), *pair, "--task", "ptb-xl-super",
                    "--out", str(first), "--max-tokens", "12", "--limit", "2")  # fmt: skip
    assert run.returncode == 0, run.stderr
    resumed = ecgviewer("eval", "run", str(dataset), *pair, "--task", "ptb-xl-super",
                        "--out", str(first), "--max-tokens", "12", "--resume")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    rows = [json.loads(line) for line in first.read_text().splitlines()]
    assert [r["question_id"] for r in rows] == ["q0", "q1", "q2"]  # resume added only q2
    for row in rows:
        assert {"question_id", "prompt", "text", "answer_id", "model_id", "gold"} <= row.keys()
        assert row["timings"]["decode_tokens"] > 0
    # B: the same run with one answer changed, as another quantization might answer
    changed = [dict(row) for row in rows]
    changed[1]["text"] = "NORM" if changed[1]["text"] != "NORM" else "MI"
    second.write_text("".join(json.dumps(row) + "\n" for row in changed))

    score = ecgviewer("eval", "score", str(first), "--task", "ptb-xl-super", "--json")
    assert score.returncode == 0, score.stderr
    report = json.loads(score.stdout)
    for key in ("macro_f1", "macro_auc", "hamming_loss", "accuracy", "unparsed_rate", "strict",
                "per_class"):  # fmt: skip
        assert key in report
    assert set(report["per_class"]) >= {"NORM", "STTC"}

    compare = ecgviewer("eval", "compare", str(first), str(second), "--task", "ptb-xl-super")
    assert compare.returncode == 0, compare.stderr
    assert "3 questions in common" in compare.stdout
    differing = re.search(r"Answers whose text differs: (\d+)", compare.stdout)
    assert differing and int(differing.group(1)) == 1
    assert "q1" in compare.stdout  # the disagreement is listed per item


def test_stopping_while_the_model_is_checked_ends_the_run_at_once(tmp_path: Path) -> None:
    from ecgviewer.core.errors import Cancelled
    from ecgviewer.core.evaluation.session import EvalRunRequest, RunControl, run_evaluation

    dataset = labelled_set(tmp_path / "set")
    args = EvalRunRequest(
        dataset=dataset, image_root=None, model=models.text_model_path(),
        mmproj=models.projector_path(), task="ptb-xl-super", out=tmp_path / "out.jsonl",
        seed=42, max_tokens=12, limit=None, resume=False,
    )  # fmt: skip
    control = RunControl()
    control.stop()  # e.g. Cancel pressed while 3 GB are being hashed for the first time
    with pytest.raises(Cancelled):
        run_evaluation(args, control=control)
    assert not (tmp_path / "out.jsonl").exists()  # nothing answered, nothing written
