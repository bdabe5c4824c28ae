"""Plain-text tables for the terminal: a score, a comparison, a run summary."""

from __future__ import annotations

from collections.abc import Sequence

from ecgviewer.core.evaluation.compare import Comparison
from ecgviewer.core.evaluation.runner import RunSummary
from ecgviewer.core.evaluation.scores import MetricSet, ScoreReport, percent

METRIC_ROWS: tuple[tuple[str, str], ...] = (
    ("macro_auc", "Macro AUC"),
    ("macro_f1", "Macro F1"),
    ("hamming_loss", "Hamming loss"),
    ("accuracy", "Accuracy"),
    ("unparsed_rate", "Unparsed answers"),
)
"""(key, label) of the headline metrics, in ECGBench's order (AUC, F1, HL)."""
MAX_CLASSES_SHOWN = 20
MAX_MATRIX_SIDE = 12
MAX_PAIRS_SHOWN = 10


def number(value: float | None) -> str:
    """A fraction as a percentage with one decimal, "n/a" when undefined."""
    shown = percent(value)
    return "n/a" if shown is None else f"{shown:.1f}"


def metric_rows(report: ScoreReport) -> list[tuple[str, str, str]]:
    """(label, compatible, strict) for every metric the task defines."""
    rows = []
    multilabel = _multilabel(report)
    for key, label in METRIC_ROWS:
        compat, strict = getattr(report.compatible, key), getattr(report.strict, key)
        if compat is None and strict is None:
            continue
        shown = "Accuracy (exact match)" if key == "accuracy" and multilabel else label
        rows.append((shown, number(compat), number(strict)))
    return rows


def format_score(report: ScoreReport) -> str:
    """The whole score as readable tables."""
    lines = [f"{report.task_title} ({report.task}): {report.n_items} answers", ""]
    lines += table(("Metric (%)", "Compatible", "Strict"), metric_rows(report))
    lines += ["", "Per class (compatible reading; strict F1 beside):"]
    lines += table(per_class_header(report), per_class_rows(report))
    lines += ["", "Confusion (compatible reading):"]
    lines += confusion_lines(report.compatible)
    if report.notes:
        lines += ["", "Notes:", *(f"- {note}" for note in report.notes)]
    return "\n".join(lines)


def per_class_header(report: ScoreReport) -> tuple[str, ...]:
    """Column names of the per-class table (AUC only for multi-label tasks)."""
    if _multilabel(report):
        return ("Class", "Precision", "Recall", "F1", "AUC", "Support", "F1 strict")
    return ("Class", "Precision", "Recall", "F1", "Support", "F1 strict")


def per_class_rows(report: ScoreReport, limit: int = MAX_CLASSES_SHOWN) -> list[tuple[str, ...]]:
    """Rows of the per-class table in label order; past `limit` classes, the most
    frequent `limit` and a line saying how many more there are."""
    ordered = list(report.compatible.per_class.items())
    if len(ordered) > limit:
        ordered.sort(key=lambda kv: -kv[1].support)
    rows: list[tuple[str, ...]] = []
    for label, c in ordered[:limit]:
        strict = report.strict.per_class.get(label)
        auc = (number(c.auc),) if _multilabel(report) else ()
        scores = (number(c.precision), number(c.recall), number(c.f1), *auc)
        rows.append((label, *scores, str(c.support), number(strict.f1) if strict else "n/a"))
    if len(ordered) > limit:
        more = f"... {len(ordered) - limit} more (see --json)"
        rows.append((more,) + ("",) * (len(per_class_header(report)) - 1))
    return rows


def _multilabel(report: ScoreReport) -> bool:
    return report.compatible.confusion.get("kind") == "per-class"


def confusion_lines(metric_set: MetricSet) -> list[str]:
    """A per-class TP/FP/FN/TN table, a gold-vs-predicted matrix, or its biggest errors."""
    confusion = metric_set.confusion
    if confusion.get("kind") == "per-class":
        rows = [
            (label, *(str(v[k]) for k in ("tp", "fp", "fn", "tn")))
            for label, v in confusion["classes"].items()
        ]
        return table(("Class", "TP", "FP", "FN", "TN"), rows)
    labels: list[str] = confusion.get("labels", [])
    matrix: list[list[int]] = confusion.get("matrix", [])
    if len(labels) <= MAX_MATRIX_SIDE:
        rows = [
            (gold, *(str(n) for n in counts)) for gold, counts in zip(labels, matrix, strict=True)
        ]
        return ["rows: gold, columns: predicted", *table(("", *labels), rows)]
    pairs = top_confusions(labels, matrix)
    return [f"{len(labels)} answers; most frequent errors (gold -> predicted):"] + [
        f"  {gold} -> {pred}: {count}" for gold, pred, count in pairs
    ]


def top_confusions(
    labels: Sequence[str], matrix: Sequence[Sequence[int]]
) -> list[tuple[str, str, int]]:
    """The largest off-diagonal cells as (gold, predicted, count)."""
    cells = [
        (labels[i], labels[j], count)
        for i, row in enumerate(matrix)
        for j, count in enumerate(row)
        if i != j and count
    ]
    return sorted(cells, key=lambda cell: -cell[2])[:MAX_PAIRS_SHOWN]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned first column, right-aligned others, two spaces apart."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return [_table_line(row, widths) for row in [header, *rows]]


def _table_line(row: Sequence[str], widths: list[int]) -> str:
    cells = [str(row[0]).ljust(widths[0])] + [
        str(v).rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)
    ]
    return "  ".join(cells).rstrip()


def format_comparison(comparison: Comparison) -> str:
    """Metrics of both runs side by side, then every question read differently."""
    a, b = comparison.score_a, comparison.score_b
    lines = [
        f"{a.task_title} ({a.task}): {comparison.n_common} questions in common",
        f"A: {comparison.name_a}",
        f"B: {comparison.name_b}",
        "",
    ]
    lines += table(
        ("Metric (%)", "A", "B", "B-A", "A strict", "B strict", "B-A strict"), _side_by_side(a, b)
    )
    lines += [
        "",
        *_coverage_lines(comparison),
        "",
        f"Readings that differ: {len(comparison.disagreements)}",
    ]
    rows = [
        (
            d.question_id,
            d.gold,
            _mark(d.a.predicted, d.a.correct),
            _mark(d.b.predicted, d.b.correct),
        )
        for d in comparison.disagreements
    ]
    if rows:
        lines += ["(compatible reading; * = correct)", *table(("Question", "Gold", "A", "B"), rows)]
    return "\n".join(lines)


def _side_by_side(a: ScoreReport, b: ScoreReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for key, label in METRIC_ROWS:
        values = [getattr(s, key) for s in (a.compatible, b.compatible, a.strict, b.strict)]
        if all(v is None for v in values):
            continue
        rows.append(
            (
                label,
                number(values[0]),
                number(values[1]),
                _delta(values[0], values[1]),
                number(values[2]),
                number(values[3]),
                _delta(values[2], values[3]),
            )
        )
    return rows


def _delta(first: float | None, second: float | None) -> str:
    a, b = percent(first), percent(second)
    if a is None or b is None:
        return "n/a"
    return f"{b - a:+.1f}"


def _coverage_lines(comparison: Comparison) -> list[str]:
    return [
        f"Only in A: {len(comparison.only_a)}; only in B: {len(comparison.only_b)}",
        f"Answers whose text differs: {comparison.n_text_differs}",
    ]


def _mark(predicted: str, correct: bool) -> str:
    return f"{predicted} *" if correct else predicted


def format_run_summary(summary: RunSummary) -> str:
    """What a run did, in a few lines."""
    state = "cancelled" if summary.cancelled else "complete" if summary.complete else "incomplete"
    lines = [
        f"Run {state}: {summary.written} answered now, {summary.already_done} already done, "
        f"{summary.total} in the run ({summary.elapsed_s:.1f} s).",
        f"Results: {summary.out_path}",
    ]
    if summary.failed:
        lines.append(
            f"{summary.failed} item(s) could not be answered (unusable image); see `error`."
        )
    if summary.repaired_tail:
        lines.append("An incomplete last line left by an interrupted run was removed.")
    return "\n".join(lines)
