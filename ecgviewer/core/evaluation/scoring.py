"""Score a results file the way ECGBench does, and strictly, side by side.

Compatible: ECGBench's parsers and metrics (label space = labels seen in gold,
unknown predicted labels dropped, a random letter for an unreadable multiple
choice answer). Strict: the strict parsers, predicted labels outside the gold
label space counted as errors, and an unreadable answer counted wrong.
docs/evaluation.md explains every choice.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ecgviewer.core.errors import InputError
from ecgviewer.core.evaluation import metrics, parsing
from ecgviewer.core.evaluation.datasets import EvalItem
from ecgviewer.core.evaluation.results_io import ResultRow
from ecgviewer.core.evaluation.scores import (
    NO_LABEL,
    UNPARSED_LABEL,
    ClassMetrics,
    ItemOutcome,
    MetricSet,
    Scored,
    ScoreReport,
)
from ecgviewer.core.evaluation.scoring_multilabel import score_multilabel
from ecgviewer.core.evaluation.tasks import TaskSpec, get_task

FALLBACK_SEED = 42
"""ECGBench's seed for the random letter given to an unreadable multiple-choice answer."""
_MAX_LISTED = 5


def score_results(
    rows: Sequence[ResultRow], task: str | TaskSpec, *, seed: int = FALLBACK_SEED
) -> ScoreReport:
    """Score `rows` (in file order) for `task`; every row needs its gold answer."""
    spec = get_task(task) if isinstance(task, str) else task
    _check_rows(rows)
    if spec.kind == "multilabel":
        scored = score_multilabel(rows, spec)
    elif spec.kind == "mcq":
        scored = _score_mcq(rows, seed)
    else:
        scored = _score_ecgqa(rows)
    compatible, strict, items, notes = scored
    return ScoreReport(
        task=spec.name,
        task_title=spec.title,
        n_items=len(rows),
        compatible=compatible,
        strict=strict,
        items=items,
        notes=tuple(_error_notes(rows) + notes),
    )


def attach_gold(rows: Sequence[ResultRow], items: Sequence[EvalItem]) -> list[ResultRow]:
    """Fill in missing gold answers from the dataset (for files written by other tools)."""
    gold_by_id = {item.question_id: item for item in items}
    filled = []
    for row in rows:
        if row.gold is not None:
            filled.append(row)
            continue
        item = gold_by_id.get(row.question_id)
        if item is None:
            raise InputError(
                f"line {row.line_no}: question {row.question_id!r} is not in the dataset."
            )
        filled.append(replace(row, gold=item.gold, prompt=row.prompt or item.question))
    return filled


def check_gold(items: Sequence[EvalItem], task: str | TaskSpec) -> list[str]:
    """Check a dataset's gold answers for `task` before a long run.

    Raises `InputError` when multiple-choice gold answers are not option letters;
    returns warnings (multi-label gold answers without any label of the task).
    """
    spec = get_task(task) if isinstance(task, str) else task
    if spec.kind == "mcq":
        bad = [item.where for item in items if parsing.gold_letter(item.gold) is None]
        if bad:
            raise InputError(
                f"{len(bad)} gold answer(s) do not start with an option letter A-H "
                f"({', '.join(bad[:_MAX_LISTED])}).",
                hint="Is --task right? mcq expects gold answers such as 'B' or 'B. ...'.",
            )
    if spec.kind == "multilabel":
        empty = [item.where for item in items if not parsing.gold_labels(item.gold, spec)]
        if empty:
            return [
                f"{len(empty)} gold answer(s) contain no label of {spec.name} "
                f"({', '.join(empty[:_MAX_LISTED])}): is --task right?"
            ]
    return []


def _check_rows(rows: Sequence[ResultRow]) -> None:
    if not rows:
        raise InputError("The results file holds no answers to score.")
    missing = [row for row in rows if row.gold is None]
    if missing:
        lines = ", ".join(str(row.line_no) for row in missing[:_MAX_LISTED])
        raise InputError(
            f"{len(missing)} row(s) have no gold answer (line {lines}).",
            hint="Pass --dataset with the labelled set the questions came from.",
        )


def _error_notes(rows: Sequence[ResultRow]) -> list[str]:
    failed = sum(1 for row in rows if row.error)
    if not failed:
        return []
    return [f"{failed} item(s) have no answer (their image could not be used); scored as unparsed."]


# --- multiple choice ----------------------------------------------------------


def _score_mcq(rows: Sequence[ResultRow], seed: int) -> Scored:
    gold = _gold_letters(rows)
    letters = [parsing.option_letters(row.prompt) for row in rows]
    rng = random.Random(seed)  # one generator per scoring run, drawn in item order
    compat = [parsing.parse_letter_compatible(row.text) for row in rows]
    compat_pred = [
        p.labels[0] if p.parsed else rng.choice(options)
        for p, options in zip(compat, letters, strict=True)
    ]
    strict = [
        parsing.parse_letter_strict(row.text, options)
        for row, options in zip(rows, letters, strict=True)
    ]
    strict_pred = [p.labels[0] if p.parsed else UNPARSED_LABEL for p in strict]
    compat_set = single_label_metrics(gold, compat_pred, _unparsed(compat))
    strict_set = single_label_metrics(gold, strict_pred, _unparsed(strict))
    items = tuple(
        ItemOutcome(
            question_id=row.question_id,
            gold=g,
            predicted=p.labels[0] if p.parsed else UNPARSED_LABEL,
            correct=cp == g,
            strict_predicted=sp,
            strict_correct=sp == g,
        )
        for row, g, p, cp, sp in zip(rows, gold, compat, compat_pred, strict_pred, strict=True)
    )
    return compat_set, strict_set, items, [_mcq_guess_note(compat, seed)]


def _gold_letters(rows: Sequence[ResultRow]) -> list[str]:
    letters = [parsing.gold_letter(row.gold or "") for row in rows]
    bad = [row for row, letter in zip(rows, letters, strict=True) if letter is None]
    if bad:
        lines = ", ".join(str(row.line_no) for row in bad[:_MAX_LISTED])
        raise InputError(
            f"{len(bad)} gold answer(s) do not start with an option letter A-H (line {lines}).",
            hint="Is --task right? mcq expects gold answers such as 'B' or 'B. ...'.",
        )
    return [letter for letter in letters if letter is not None]


def _mcq_guess_note(parsed: list[parsing.ParsedAnswer], seed: int) -> str:
    guessed = sum(1 for p in parsed if not p.parsed)
    return (
        f"Compatible score: {guessed} unreadable answer(s) got a random letter "
        f"(Python random, seed {seed}, drawn in file order), as ECGBench does; "
        "the strict score counts them wrong."
    )


# --- ECG-QA ----------------------------------------------------------------------


def _score_ecgqa(rows: Sequence[ResultRow]) -> Scored:
    compat = [parsing.parse_options_compatible(row.text, row.prompt) for row in rows]
    strict = [parsing.parse_options_strict(row.text, row.prompt) for row in rows]
    gold_sets = [parsing.gold_options(row.gold or "") for row in rows]
    gold = [_option_key(g, NO_LABEL) for g in gold_sets]
    compat_pred = [_option_key(parsing.normalised_options(list(p.labels))) for p in compat]
    strict_pred = [_option_key(frozenset(p.labels)) for p in strict]
    compat_ok = [
        parsing.options_match_compatible(p.labels, row.gold or "")
        for p, row in zip(compat, rows, strict=True)
    ]
    strict_ok = [p == g for p, g in zip(strict_pred, gold, strict=True)]
    compat_set = single_label_metrics(gold, compat_pred, _unparsed(compat), correct=compat_ok)
    strict_set = single_label_metrics(gold, strict_pred, _unparsed(strict), correct=strict_ok)
    items = tuple(
        ItemOutcome(row.question_id, g, cp, ok, sp, sok)
        for row, g, cp, ok, sp, sok in zip(
            rows, gold, compat_pred, compat_ok, strict_pred, strict_ok, strict=True
        )
    )
    notes = [
        "Compatible accuracy compares the characters of the matched options with the "
        "characters of the gold answer, as ECGBench does; per-class figures and the "
        "confusion table compare option sets.",
    ]
    return compat_set, strict_set, items, notes


def _option_key(options: set[str] | frozenset[str], empty: str = UNPARSED_LABEL) -> str:
    return ", ".join(sorted(options)) if options else empty


# --- shared ----------------------------------------------------------------------


def _unparsed(parsed: Sequence[parsing.ParsedAnswer]) -> float:
    return sum(1 for p in parsed if not p.parsed) / len(parsed)


def single_label_metrics(
    gold: list[str],
    predicted: list[str],
    unparsed_rate: float,
    *,
    correct: list[bool] | None = None,
) -> MetricSet:
    """Accuracy, one-vs-rest per-class metrics and a gold-vs-predicted confusion table."""
    classes = sorted((set(gold) | set(predicted)) - {UNPARSED_LABEL})
    counts = metrics.class_counts(
        metrics.one_hot(gold, classes), metrics.one_hot(predicted, classes)
    )
    precision, recall, f1 = metrics.precision_recall_f1(counts)
    per_class = {
        label: ClassMetrics(
            float(precision[i]), float(recall[i]), float(f1[i]), int(counts.support[i])
        )
        for i, label in enumerate(classes)
    }
    labels = classes + ([UNPARSED_LABEL] if UNPARSED_LABEL in predicted else [])
    matrix = metrics.confusion_matrix(gold, predicted, labels)
    accuracy = float(np.mean(correct)) if correct is not None else metrics.accuracy(gold, predicted)
    return MetricSet(
        accuracy=accuracy,
        unparsed_rate=unparsed_rate,
        per_class=per_class,
        confusion={"kind": "gold-vs-predicted", "labels": labels, "matrix": matrix.tolist()},
    )
