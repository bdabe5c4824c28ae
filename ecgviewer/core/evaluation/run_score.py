"""The score shown when an evaluation run ends, or why there is none: one rule for the
window's Evaluate dialog and `ecgviewer eval run`.

Runs on the caller's thread (the CLI's main thread, or the GUI's pool thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ecgviewer.core.errors import InputError
from ecgviewer.core.evaluation.runner import RunSummary
from ecgviewer.core.evaluation.scores import ScoreReport

NOTHING_TO_SCORE = "No answers yet, so there is nothing to score."


@dataclass(frozen=True)
class RunScore:
    """The score of a finished run (`report`), or the reason there is none (`problem`)."""

    report: ScoreReport | None
    problem: str = ""  # "" when there is a report

    @property
    def nothing_answered(self) -> bool:
        """True when the run left no answer at all (nothing to score, nothing wrong)."""
        return self.report is None and self.problem == NOTHING_TO_SCORE


def score_after_run(summary: RunSummary, task: str, dataset: Path | None = None) -> RunScore:
    """Score the results file a run wrote to; a file that cannot be scored is not an error.

    The run itself succeeded, so an `InputError` from scoring (say, no row has
    a gold answer) becomes the `problem`, in words for the user.
    """
    from ecgviewer.core.evaluation.session import score_file

    if summary.already_done + summary.written == 0:
        return RunScore(None, NOTHING_TO_SCORE)
    try:
        return RunScore(score_file(summary.out_path, task, dataset))
    except InputError as error:
        return RunScore(None, f"The results could not be scored: {error}")
