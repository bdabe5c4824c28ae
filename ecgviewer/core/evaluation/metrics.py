"""Classification metrics in plain numpy, defined as scikit-learn defines them.

Matrices are (items x classes) arrays of 0/1. Undefined ratios follow
scikit-learn's `zero_division=0`: a precision with no predicted positives, a
recall with no gold positives, an F1 with neither, are 0. The one exception is
ROC AUC on a class whose gold column is constant: it is undefined (scikit-learn
raises in the versions ECGBench used, newer ones warn and return NaN) and here
it is NaN, which callers must handle (`nan_mean` leaves it out).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntMatrix = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ClassCounts:
    """Per-class true/false positives/negatives, one entry per column."""

    tp: IntMatrix
    fp: IntMatrix
    fn: IntMatrix
    tn: IntMatrix

    @property
    def support(self) -> IntMatrix:
        """Gold positives per class."""
        return self.tp + self.fn


def binarize(label_sets: Sequence[Collection[str]], classes: Sequence[str]) -> IntMatrix:
    """One row per item, one 0/1 column per class; labels outside `classes` are dropped."""
    index = {label: column for column, label in enumerate(classes)}
    matrix = np.zeros((len(label_sets), len(classes)), dtype=np.int64)
    for row, labels in enumerate(label_sets):
        for label in labels:
            if label in index:
                matrix[row, index[label]] = 1
    return matrix


def class_counts(y_true: IntMatrix, y_pred: IntMatrix) -> ClassCounts:
    """Count TP/FP/FN/TN per column of two equally shaped 0/1 matrices."""
    _check_shapes(y_true, y_pred)
    truth = y_true.astype(bool)
    pred = y_pred.astype(bool)
    return ClassCounts(
        tp=np.sum(truth & pred, axis=0).astype(np.int64),
        fp=np.sum(~truth & pred, axis=0).astype(np.int64),
        fn=np.sum(truth & ~pred, axis=0).astype(np.int64),
        tn=np.sum(~truth & ~pred, axis=0).astype(np.int64),
    )


def precision_recall_f1(counts: ClassCounts) -> tuple[FloatVector, FloatVector, FloatVector]:
    """Per-class precision, recall and F1 (0 where undefined, as `zero_division=0`)."""
    precision = _ratio(counts.tp, counts.tp + counts.fp)
    recall = _ratio(counts.tp, counts.tp + counts.fn)
    f1 = _ratio(2 * counts.tp, 2 * counts.tp + counts.fp + counts.fn)
    return precision, recall, f1


def binary_auc(counts: ClassCounts) -> FloatVector:
    """Per-class ROC AUC of 0/1 predictions, i.e. balanced accuracy (TPR + TNR) / 2.

    NaN for a class whose gold column is constant (all positive or all negative):
    one of the two rates is then undefined and scikit-learn raises.
    """
    positives = counts.tp + counts.fn
    negatives = counts.tn + counts.fp
    defined = (positives > 0) & (negatives > 0)
    tpr = _ratio(counts.tp, positives)
    tnr = _ratio(counts.tn, negatives)
    return np.where(defined, (tpr + tnr) / 2.0, np.nan)


def hamming_loss(y_true: IntMatrix, y_pred: IntMatrix) -> float:
    """Share of (item, class) cells where prediction and gold differ."""
    _check_shapes(y_true, y_pred)
    if y_true.size == 0:
        return 0.0
    return float(np.mean(y_true.astype(bool) != y_pred.astype(bool)))


def subset_accuracy(y_true: IntMatrix, y_pred: IntMatrix) -> float:
    """Share of items whose predicted label set equals the gold set exactly."""
    _check_shapes(y_true, y_pred)
    if y_true.shape[0] == 0:
        return 0.0
    rows_equal = np.all(y_true.astype(bool) == y_pred.astype(bool), axis=1)
    return float(np.mean(rows_equal))


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of items whose single predicted label equals the gold one."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    if not gold:
        return 0.0
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def confusion_matrix(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> IntMatrix:
    """Counts with gold labels as rows and predicted labels as columns, in `labels` order."""
    index = {label: position for position, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for g, p in zip(gold, predicted, strict=True):
        if g in index and p in index:
            matrix[index[g], index[p]] += 1
    return matrix


def one_hot(values: Sequence[str], classes: Sequence[str]) -> IntMatrix:
    """Single-label values as a 0/1 matrix (for one-vs-rest per-class metrics)."""
    return binarize([(value,) for value in values], classes)


def nan_mean(values: FloatVector) -> float | None:
    """Mean of the defined (non-NaN) values; None when there are none."""
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return None
    return float(np.mean(defined))


def _ratio(numerator: IntMatrix, denominator: IntMatrix) -> FloatVector:
    num = numerator.astype(np.float64)
    den = denominator.astype(np.float64)
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _check_shapes(y_true: IntMatrix, y_pred: IntMatrix) -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shape mismatch: {y_true.shape} vs {y_pred.shape}")
