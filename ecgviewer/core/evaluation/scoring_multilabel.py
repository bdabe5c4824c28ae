"""Scoring of the closed multi-label tasks (PTB-XL super-class, CPSC 2018, CODE-15%).

Compatible, as ECGBench: the label space is the labels seen in the gold answers
(in the task's order), predicted labels outside it are dropped, macro F1 and
macro "AUC" are plain means over that space. One deliberate difference: a class
whose gold column is constant has an undefined AUC, which makes ECGBench's mean
NaN; here that class is reported as undefined and left out of the mean (a note
says so).

Strict: the token parser, and the label space is the labels seen in gold plus
any label the strict parser predicted, so a predicted class that no gold
answer has counts against Hamming loss and exact-match accuracy (instead of
being dropped) without diluting them when nobody mentions it; macro F1
averages the classes that have gold positives, macro AUC the classes where it
is defined.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecgviewer.core.evaluation import metrics, parsing
from ecgviewer.core.evaluation.results_io import ResultRow
from ecgviewer.core.evaluation.scores import (
    NO_LABEL,
    UNPARSED_LABEL,
    ClassMetrics,
    ItemOutcome,
    MetricSet,
    Scored,
)
from ecgviewer.core.evaluation.tasks import TaskSpec


def score_multilabel(rows: Sequence[ResultRow], task: TaskSpec) -> Scored:
    """Compatible and strict metrics, per-item outcomes and notes for one multi-label run."""
    gold = [frozenset(parsing.gold_labels(row.gold or "", task)) for row in rows]
    compat = [parsing.parse_labels_compatible(row.text, task) for row in rows]
    strict = [parsing.parse_labels_strict(row.text, task) for row in rows]
    seen = set().union(*gold)
    space = [label for label in task.labels if label in seen]
    strict_seen = seen.union(*(p.labels for p in strict))
    compat_set = multilabel_metrics(gold, compat, space)
    strict_set = multilabel_metrics(gold, strict, [x for x in task.labels if x in strict_seen])
    items = tuple(
        _outcome(row, g, c, s, space)
        for row, g, c, s in zip(rows, gold, compat, strict, strict=True)
    )
    notes = _notes(task, gold, compat, space, compat_set)
    return compat_set, strict_set, items, notes


def multilabel_metrics(
    gold: Sequence[frozenset[str]], parsed: Sequence[parsing.ParsedAnswer], classes: list[str]
) -> MetricSet:
    """Every multi-label metric of `parsed` against `gold` over `classes`."""
    y_true = metrics.binarize(gold, classes)
    y_pred = metrics.binarize([p.labels for p in parsed], classes)
    counts = metrics.class_counts(y_true, y_pred)
    precision, recall, f1 = metrics.precision_recall_f1(counts)
    auc = metrics.binary_auc(counts)
    has_gold = counts.support > 0
    return MetricSet(
        accuracy=metrics.subset_accuracy(y_true, y_pred),
        unparsed_rate=sum(1 for p in parsed if not p.parsed) / max(len(parsed), 1),
        macro_f1=float(np.mean(f1[has_gold])) if has_gold.any() else None,
        macro_auc=metrics.nan_mean(auc),
        hamming_loss=metrics.hamming_loss(y_true, y_pred),
        per_class={
            label: ClassMetrics(
                precision=float(precision[i]),
                recall=float(recall[i]),
                f1=float(f1[i]),
                support=int(counts.support[i]),
                auc=None if np.isnan(auc[i]) else float(auc[i]),
            )
            for i, label in enumerate(classes)
        },
        confusion=_confusion(counts, classes),
    )


def _confusion(counts: metrics.ClassCounts, classes: list[str]) -> dict[str, object]:
    table = {
        label: {
            "tp": int(counts.tp[i]),
            "fp": int(counts.fp[i]),
            "fn": int(counts.fn[i]),
            "tn": int(counts.tn[i]),
        }
        for i, label in enumerate(classes)
    }
    return {"kind": "per-class", "classes": table}


def _outcome(
    row: ResultRow,
    gold: frozenset[str],
    compat: parsing.ParsedAnswer,
    strict: parsing.ParsedAnswer,
    space: list[str],
) -> ItemOutcome:
    kept = frozenset(label for label in compat.labels if label in space)
    return ItemOutcome(
        question_id=row.question_id,
        gold=_show(gold, NO_LABEL),
        predicted=_show(frozenset(compat.labels), UNPARSED_LABEL),
        correct=kept == gold,
        strict_predicted=_show(frozenset(strict.labels), UNPARSED_LABEL),
        strict_correct=frozenset(strict.labels) == gold,
    )


def _show(labels: frozenset[str], empty: str) -> str:
    return ", ".join(sorted(labels)) if labels else empty


def _notes(
    task: TaskSpec,
    gold: Sequence[frozenset[str]],
    compat: Sequence[parsing.ParsedAnswer],
    space: list[str],
    compat_set: MetricSet,
) -> list[str]:
    notes = []
    absent = [label for label in task.labels if label not in space]
    if absent:
        notes.append(
            f"No gold answer has {', '.join(absent)}: as in ECGBench, these classes are left "
            "out of the label space (the strict score adds one only where it is predicted)."
        )
    dropped = sum(1 for p in compat for label in p.labels if label not in space)
    if dropped:
        notes.append(
            f"{dropped} predicted label(s) of classes absent from the gold answers were dropped "
            "by the compatible score, as ECGBench does; the strict score counts them as errors."
        )
    undefined = [label for label, c in compat_set.per_class.items() if c.auc is None]
    if undefined:
        notes.append(
            f"AUC is undefined for {', '.join(undefined)} (the gold column is constant): "
            "ECGBench's macro AUC would be NaN; here it is the mean over the other classes."
        )
    empty = sum(1 for labels in gold if not labels)
    if empty:
        notes.append(f"{empty} gold answer(s) contain no label of this task: is --task right?")
    return notes
