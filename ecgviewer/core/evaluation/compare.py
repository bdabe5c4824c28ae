"""Two runs on the same questions side by side (e.g. Q4_K_M against Q8_0 of one model).

Both runs are scored on the questions they have in common, in the first run's
order, so the numbers are comparable; every question whose reading differs
(compatible or strict parser) is listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecgviewer.core.errors import InputError
from ecgviewer.core.evaluation.results_io import ResultRow
from ecgviewer.core.evaluation.scores import ItemOutcome, ScoreReport
from ecgviewer.core.evaluation.scoring import score_results
from ecgviewer.core.evaluation.tasks import TaskSpec


@dataclass(frozen=True)
class Disagreement:
    """One question the two runs read differently."""

    question_id: str
    gold: str
    a: ItemOutcome
    b: ItemOutcome
    text_a: str
    text_b: str

    def to_json(self) -> dict[str, Any]:
        """Readings, judgements and the raw answers of both runs."""
        return {
            "question_id": self.question_id,
            "gold": self.gold,
            "a": {**_outcome_json(self.a), "text": self.text_a},
            "b": {**_outcome_json(self.b), "text": self.text_b},
        }


@dataclass(frozen=True)
class Comparison:
    """Scores of both runs on their common questions, and where they differ."""

    name_a: str
    name_b: str
    score_a: ScoreReport
    score_b: ScoreReport
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    n_text_differs: int
    disagreements: tuple[Disagreement, ...]

    @property
    def n_common(self) -> int:
        """Questions answered in both runs."""
        return self.score_a.n_items

    def to_json(self) -> dict[str, Any]:
        """Everything as one JSON-ready object."""
        return {
            "task": self.score_a.task,
            "a": {"name": self.name_a, "score": self.score_a.to_json()},
            "b": {"name": self.name_b, "score": self.score_b.to_json()},
            "n_common": self.n_common,
            "only_a": list(self.only_a),
            "only_b": list(self.only_b),
            "n_text_differs": self.n_text_differs,
            "disagreements": [d.to_json() for d in self.disagreements],
        }


def compare_runs(
    rows_a: Sequence[ResultRow],
    rows_b: Sequence[ResultRow],
    task: str | TaskSpec,
    *,
    name_a: str = "A",
    name_b: str = "B",
) -> Comparison:
    """Score both runs on their common questions and list every differing reading."""
    by_id_b = {row.question_id: row for row in rows_b}
    common_a = [row for row in rows_a if row.question_id in by_id_b]
    if not common_a:
        raise InputError(f"{name_a} and {name_b} have no question in common.")
    common_b = [by_id_b[row.question_id] for row in common_a]
    _check_same_gold(common_a, common_b)
    score_a = score_results(common_a, task)
    score_b = score_results(common_b, task)
    ids_a = {row.question_id for row in rows_a}
    return Comparison(
        name_a=name_a,
        name_b=name_b,
        score_a=score_a,
        score_b=score_b,
        only_a=tuple(row.question_id for row in rows_a if row.question_id not in by_id_b),
        only_b=tuple(row.question_id for row in rows_b if row.question_id not in ids_a),
        n_text_differs=sum(1 for a, b in zip(common_a, common_b, strict=True) if a.text != b.text),
        disagreements=_disagreements(score_a, score_b, common_a, common_b),
    )


def _check_same_gold(rows_a: list[ResultRow], rows_b: list[ResultRow]) -> None:
    for a, b in zip(rows_a, rows_b, strict=True):
        if a.gold is not None and b.gold is not None and a.gold != b.gold:
            raise InputError(
                f"Question {a.question_id!r} has different gold answers in the two runs "
                f"(lines {a.line_no} and {b.line_no}): they are not the same labelled set."
            )


def _disagreements(
    score_a: ScoreReport,
    score_b: ScoreReport,
    rows_a: list[ResultRow],
    rows_b: list[ResultRow],
) -> tuple[Disagreement, ...]:
    found = []
    for a, b, row_a, row_b in zip(score_a.items, score_b.items, rows_a, rows_b, strict=True):
        if a.predicted != b.predicted or a.strict_predicted != b.strict_predicted:
            found.append(Disagreement(a.question_id, a.gold, a, b, row_a.text, row_b.text))
    return tuple(found)


def _outcome_json(outcome: ItemOutcome) -> dict[str, Any]:
    return {
        "predicted": outcome.predicted,
        "correct": outcome.correct,
        "strict_predicted": outcome.strict_predicted,
        "strict_correct": outcome.strict_correct,
    }
