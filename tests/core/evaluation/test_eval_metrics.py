"""Metrics against hand-computed matrices and against scikit-learn's definitions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from ecgviewer.core.evaluation import metrics

# Hand-computed case. Columns: c0, c1, c2, c3 (no gold positive), c4 (nothing at all).
Y_TRUE = np.array(
    [
        [1, 0, 1, 0, 0],
        [0, 1, 1, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
    ]
)
Y_PRED = np.array(
    [
        [1, 0, 0, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 1, 0, 0],
    ]
)


def test_counts_by_hand() -> None:
    counts = metrics.class_counts(Y_TRUE, Y_PRED)
    assert counts.tp.tolist() == [1, 2, 2, 0, 0]
    assert counts.fp.tolist() == [0, 0, 1, 1, 0]
    assert counts.fn.tolist() == [1, 0, 1, 0, 0]
    assert counts.tn.tolist() == [2, 2, 0, 3, 4]
    assert counts.support.tolist() == [2, 2, 3, 0, 0]


def test_precision_recall_f1_by_hand() -> None:
    precision, recall, f1 = metrics.precision_recall_f1(metrics.class_counts(Y_TRUE, Y_PRED))
    assert precision == pytest.approx([1.0, 1.0, 2 / 3, 0.0, 0.0])
    assert recall == pytest.approx([0.5, 1.0, 2 / 3, 0.0, 0.0])
    assert f1 == pytest.approx([2 / 3, 1.0, 2 / 3, 0.0, 0.0])


def test_binary_auc_is_balanced_accuracy_and_nan_for_constant_gold() -> None:
    auc = metrics.binary_auc(metrics.class_counts(Y_TRUE, Y_PRED))
    assert auc[:3] == pytest.approx([0.75, 1.0, 1 / 3])
    assert np.isnan(auc[3])  # no gold positive
    assert np.isnan(auc[4])


def test_auc_nan_for_a_column_where_every_item_is_positive() -> None:
    y_true = np.array([[1], [1], [1]])
    y_pred = np.array([[1], [0], [1]])
    assert np.isnan(metrics.binary_auc(metrics.class_counts(y_true, y_pred))[0])


def test_nan_mean_skips_undefined_values() -> None:
    assert metrics.nan_mean(np.array([0.75, np.nan, 0.25])) == pytest.approx(0.5)
    assert metrics.nan_mean(np.array([np.nan])) is None


def test_hamming_and_subset_accuracy_by_hand() -> None:
    # Mismatches: (0, c2), (1, c3), (2, c0), (2, c2) -> 4 of 20 cells.
    assert metrics.hamming_loss(Y_TRUE, Y_PRED) == pytest.approx(4 / 20)
    assert metrics.subset_accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.25)  # only row 3


def test_binarize_drops_labels_outside_the_classes() -> None:
    matrix = metrics.binarize([("MI", "XYZ"), (), ("CD", "MI")], ["MI", "CD"])
    assert matrix.tolist() == [[1, 0], [0, 0], [1, 1]]


def test_single_label_accuracy_and_confusion_by_hand() -> None:
    gold = ["A", "B", "B", "C"]
    pred = ["A", "C", "B", "(unparsed)"]
    assert metrics.accuracy(gold, pred) == pytest.approx(0.5)
    matrix = metrics.confusion_matrix(gold, pred, ["A", "B", "C", "(unparsed)"])
    assert matrix.tolist() == [[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        metrics.hamming_loss(np.zeros((2, 3), dtype=np.int64), np.zeros((3, 2), dtype=np.int64))


# --- against scikit-learn on random matrices ------------------------------------------


def random_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(5, 60)), int(rng.integers(2, 9))
    y_true = (rng.random((rows, cols)) < rng.random(cols)).astype(np.int64)
    y_pred = (rng.random((rows, cols)) < 0.4).astype(np.int64)
    y_true[:, 0] = 0  # always one class with no positive gold label
    return y_true, y_pred


@pytest.mark.parametrize("seed", range(25))
def test_per_class_and_macro_match_sklearn(seed: int) -> None:
    y_true, y_pred = random_pair(seed)
    precision, recall, f1 = metrics.precision_recall_f1(metrics.class_counts(y_true, y_pred))
    assert precision == pytest.approx(
        skm.precision_score(y_true, y_pred, average=None, zero_division=0)
    )
    assert recall == pytest.approx(skm.recall_score(y_true, y_pred, average=None, zero_division=0))
    assert f1 == pytest.approx(skm.f1_score(y_true, y_pred, average=None, zero_division=0))
    assert float(np.mean(f1)) == pytest.approx(
        skm.f1_score(y_true, y_pred, average="macro", zero_division=0)
    )


@pytest.mark.parametrize("seed", range(25))
def test_auc_matches_sklearn_per_class_on_binary_predictions(seed: int) -> None:
    y_true, y_pred = random_pair(seed)
    auc = metrics.binary_auc(metrics.class_counts(y_true, y_pred))
    for column in range(y_true.shape[1]):
        expected = sklearn_auc(y_true[:, column], y_pred[:, column])
        if len(set(y_true[:, column])) < 2:
            assert np.isnan(auc[column]) and np.isnan(expected)
        else:
            assert auc[column] == pytest.approx(expected)


def sklearn_auc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """roc_auc_score, with "undefined" as NaN (old versions raise, new ones warn)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        try:
            return float(skm.roc_auc_score(y_true, y_pred))
        except ValueError:
            return float("nan")


@pytest.mark.parametrize("seed", range(25))
def test_hamming_and_subset_accuracy_match_sklearn(seed: int) -> None:
    y_true, y_pred = random_pair(seed)
    assert metrics.hamming_loss(y_true, y_pred) == pytest.approx(skm.hamming_loss(y_true, y_pred))
    assert metrics.subset_accuracy(y_true, y_pred) == pytest.approx(
        skm.accuracy_score(y_true, y_pred)
    )


@pytest.mark.parametrize("seed", range(10))
def test_single_label_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = list("ABCDE")
    gold = [str(x) for x in rng.choice(labels, 80)]
    pred = [str(x) for x in rng.choice(labels, 80)]
    assert metrics.accuracy(gold, pred) == pytest.approx(skm.accuracy_score(gold, pred))
    expected = skm.confusion_matrix(gold, pred, labels=labels)
    assert metrics.confusion_matrix(gold, pred, labels).tolist() == expected.tolist()
    counts = metrics.class_counts(metrics.one_hot(gold, labels), metrics.one_hot(pred, labels))
    _, _, f1 = metrics.precision_recall_f1(counts)
    assert f1 == pytest.approx(
        skm.f1_score(gold, pred, labels=labels, average=None, zero_division=0)
    )
