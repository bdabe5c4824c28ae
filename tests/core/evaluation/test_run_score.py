"""The score after a run, one rule for the window and the CLI: a score, or why not."""

from __future__ import annotations

from pathlib import Path

from ecgviewer.core.evaluation.run_score import NOTHING_TO_SCORE, score_after_run
from ecgviewer.core.evaluation.runner import RunSummary


def summary(out: Path, *, done: int = 0, written: int = 0) -> RunSummary:
    return RunSummary(
        out_path=out, total=2, already_done=done, written=written, failed=0,
        cancelled=False, repaired_tail=False, elapsed_s=1.0,
    )  # fmt: skip


def test_a_run_with_answers_is_scored(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text(
        '{"question_id": "a", "text": "MI", "gold": "MI"}\n'
        '{"question_id": "b", "text": "NORM", "gold": "MI"}\n',
        encoding="utf-8",
    )
    score = score_after_run(summary(out, written=2), "ptb-xl-super")
    assert score.problem == "" and score.report is not None
    assert score.report.n_items == 2 and score.report.compatible.accuracy == 0.5


def test_a_run_without_answers_has_nothing_to_score(tmp_path: Path) -> None:
    score = score_after_run(summary(tmp_path / "missing.jsonl"), "ptb-xl-super")
    assert score.report is None and score.problem == NOTHING_TO_SCORE
    assert score.nothing_answered


def test_results_without_gold_say_why_there_is_no_score(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"question_id": "a", "text": "MI"}\n', encoding="utf-8")
    score = score_after_run(summary(out, written=1), "ptb-xl-super")
    assert score.report is None and not score.nothing_answered
    assert score.problem.startswith("The results could not be scored: ")
