"""The result of scoring a run: plain dataclasses with a JSON form.

Values are kept as fractions in [0, 1]; `to_json` reports them as ECGBench
does, x100 with one decimal, and writes undefined values as null.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

UNPARSED_LABEL = "(unparsed)"
"""Stands for "nothing could be read" in predictions, item lists and confusion tables."""
NO_LABEL = "(none)"
"""Stands for an empty gold answer (no label of the task in it)."""
METRIC_KEYS = ("macro_f1", "macro_auc", "hamming_loss", "accuracy")


def percent(value: float | None) -> float | None:
    """A fraction as ECGBench prints it: x100, one decimal; None stays None (NaN too)."""
    if value is None or math.isnan(value):
        return None
    return round(value * 100, 1)


@dataclass(frozen=True)
class ClassMetrics:
    """One class, one-vs-rest. `auc` only for multi-label tasks; None where undefined."""

    precision: float
    recall: float
    f1: float
    support: int
    auc: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Percentages (one decimal) and the support as a count."""
        return {
            "precision": percent(self.precision),
            "recall": percent(self.recall),
            "f1": percent(self.f1),
            "support": self.support,
            "auc": percent(self.auc),
        }


@dataclass(frozen=True)
class MetricSet:
    """Every number of one way of reading the answers (compatible or strict).

    The macro metrics and Hamming loss are None for tasks ECGBench scores by
    accuracy only (multiple choice, ECG-QA).
    """

    accuracy: float
    unparsed_rate: float
    macro_f1: float | None = None
    macro_auc: float | None = None
    hamming_loss: float | None = None
    per_class: dict[str, ClassMetrics] = field(default_factory=dict)
    confusion: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The metric keys, `unparsed_rate`, `per_class` and `confusion`."""
        data: dict[str, Any] = {key: percent(getattr(self, key)) for key in METRIC_KEYS}
        data["unparsed_rate"] = percent(self.unparsed_rate)
        data["per_class"] = {label: c.to_json() for label, c in self.per_class.items()}
        data["confusion"] = self.confusion
        return data


@dataclass(frozen=True)
class ItemOutcome:
    """How one answer was read and judged, by both parsers."""

    question_id: str
    gold: str
    predicted: str  # compatible reading, UNPARSED_LABEL when nothing was read
    correct: bool  # compatible judgement (random guess included for multiple choice)
    strict_predicted: str
    strict_correct: bool

    @property
    def parsed(self) -> bool:
        """Whether the compatible parser read anything."""
        return self.predicted != UNPARSED_LABEL


@dataclass(frozen=True)
class ScoreReport:
    """A scored run: compatible numbers, strict numbers, per-item outcomes and notes."""

    task: str
    task_title: str
    n_items: int
    compatible: MetricSet
    strict: MetricSet
    items: tuple[ItemOutcome, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self, *, include_items: bool = False) -> dict[str, Any]:
        """One object: the compatible metrics at the top, the strict ones under `strict`."""
        data: dict[str, Any] = {"task": self.task, "task_title": self.task_title}
        data["n_items"] = self.n_items
        data.update(self.compatible.to_json())
        data["strict"] = self.strict.to_json()
        data["notes"] = list(self.notes)
        data["units"] = (
            "percent with one decimal, as ECGBench reports; support and counts are items"
        )
        if include_items:
            data["items"] = [vars(item) for item in self.items]
        return data


Scored = tuple[MetricSet, MetricSet, tuple[ItemOutcome, ...], list[str]]
"""What each task kind's scorer returns: compatible, strict, per-item outcomes, notes."""
