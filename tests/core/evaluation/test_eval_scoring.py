"""Scoring whole runs: compatible numbers as ECGBench computes them, strict beside."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import MultiLabelBinarizer

from ecgviewer.core.errors import InputError
from ecgviewer.core.evaluation.datasets import EvalItem
from ecgviewer.core.evaluation.results_io import ResultRow
from ecgviewer.core.evaluation.scoring import attach_gold, check_gold, score_results
from ecgviewer.core.evaluation.tasks import TASKS

MCQ_PROMPT = "Which rhythm?\nA. Sinus\nB. AF\nC. Flutter\nD. SVT"


def row(qid: str, text: str, gold: str | None, prompt: str = "", error: str = "") -> ResultRow:
    line_no = int(qid[1:] or 0)
    return ResultRow(qid, prompt=prompt, text=text, gold=gold, error=error, line_no=line_no)


# --- multi-label: compatible against an independent sklearn pipeline -------------------


def sklearn_reference(
    texts: list[str], golds: list[str], labels: tuple[str, ...]
) -> dict[str, float]:
    """The protocol's recipe written with scikit-learn: substring labels, label space
    fitted on gold, unknown predictions dropped, per-class F1/AUC averaged."""
    gold_sets = [[x for x in labels if x in g] for g in golds]
    pred_sets = [[x for x in labels if x in t] for t in texts]
    binarizer = MultiLabelBinarizer()
    y_true = binarizer.fit_transform(gold_sets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unknown predicted labels are dropped
        y_pred = binarizer.transform(pred_sets)
    f1 = skm.f1_score(y_true, y_pred, average=None, zero_division=0)
    auc = [skm.roc_auc_score(y_true[:, i], y_pred[:, i]) for i in range(y_true.shape[1])]
    return {
        "macro_f1": float(np.mean(f1)),
        "macro_auc": float(np.mean(auc)),
        "hamming_loss": float(skm.hamming_loss(y_true, y_pred)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
    }


def synthetic_answers(seed: int, labels: tuple[str, ...], n: int = 120) -> list[ResultRow]:
    rng = random.Random(seed)
    noise = ["NORMAL", "STTC-like", "no clear finding", "ABNORMAL", "HYPertrophy", "mi"]
    rows = []
    for i in range(n):
        gold = rng.sample(labels, rng.randint(1, 2))
        said = rng.sample(labels, rng.randint(0, 2)) + rng.sample(noise, rng.randint(0, 1))
        rows.append(row(f"q{i}", " ".join(said), ", ".join(gold)))
    return rows


@pytest.mark.parametrize("task", ["ptb-xl-super", "cpsc"])
@pytest.mark.parametrize("seed", range(5))
def test_multilabel_compatible_equals_the_sklearn_recipe(task: str, seed: int) -> None:
    spec = TASKS[task]
    rows = synthetic_answers(seed, spec.labels)
    report = score_results(rows, task)
    expected = sklearn_reference([r.text for r in rows], [r.gold or "" for r in rows], spec.labels)
    for key, value in expected.items():
        assert getattr(report.compatible, key) == pytest.approx(value), key


def test_hand_computed_ptb_run() -> None:
    rows = [
        row("q1", "NORM", "NORM"),
        row("q2", "Answer: MI", "MI, STTC"),
        row("q3", "I think STTC and CD", "CD"),
        row("q4", "hmm", "NORM"),
    ]
    report = score_results(rows, "ptb-xl-super")
    compat = report.compatible
    # Label space NORM, MI, STTC, CD (HYP never in gold). Per class F1: 2/3, 1, 0, 1.
    assert compat.macro_f1 == pytest.approx((2 / 3 + 1 + 0 + 1) / 4)
    # AUC: NORM (0.5+1)/2, MI 1, STTC (0 + 2/3)/2, CD 1.
    assert compat.macro_auc == pytest.approx((0.75 + 1 + 1 / 3 + 1) / 4)
    assert compat.hamming_loss == pytest.approx(3 / 16)
    assert compat.accuracy == pytest.approx(0.25)
    assert compat.unparsed_rate == pytest.approx(0.25)
    assert "HYP" not in compat.per_class
    assert compat.per_class["STTC"].support == 1
    assert compat.confusion["classes"]["STTC"] == {"tp": 0, "fp": 1, "fn": 1, "tn": 2}
    assert any("HYP" in note for note in report.notes)


def test_constant_gold_column_gives_undefined_auc_left_out_and_noted() -> None:
    rows = [
        row("q1", "NORM, MI", "NORM, MI"),
        row("q2", "NORM", "NORM"),
        row("q3", "NORM, MI", "NORM"),
    ]
    report = score_results(rows, "ptb-xl-super")
    assert report.compatible.per_class["NORM"].auc is None
    # Only MI is defined: TPR 1, TNR 1/2.
    assert report.compatible.macro_auc == pytest.approx(0.75)
    assert any("AUC is undefined for NORM" in note for note in report.notes)
    data = report.to_json()
    assert data["per_class"]["NORM"]["auc"] is None
    assert data["macro_auc"] == 75.0


def test_all_auc_undefined_gives_null() -> None:
    report = score_results([row("q1", "MI", "MI")], "ptb-xl-super")
    assert report.compatible.macro_auc is None
    assert report.to_json()["macro_auc"] is None


def test_code15_st_side_effect_counts_in_compatible_not_in_strict() -> None:
    rows = [row("q1", "Answer: STD", "ST"), row("q2", "Answer: RBBB", "RBBB")]
    report = score_results(rows, "code15")
    assert report.compatible.accuracy == 1.0  # "ST" found inside "STD"
    assert report.strict.accuracy == 0.5
    assert report.items[0].predicted == "ST"
    assert report.items[0].strict_predicted == "(unparsed)"
    assert report.strict.unparsed_rate == 0.5


def test_code15_norm_abnormal_classes() -> None:
    rows = [
        row("q1", "Answer: NORM", "NORM"),
        row("q2", "Answer: ABNORMAL", "ABNORMAL"),
        row("q3", "Answer: ABNORMAL, AF", "AF"),
    ]
    report = score_results(rows, "code15")
    assert set(report.compatible.per_class) == {"AF", "NORM", "ABNORMAL"}
    assert report.compatible.per_class["ABNORMAL"].precision == 0.5
    assert report.items[2].correct is False  # ABNORMAL predicted beside AF


def test_compatible_drops_classes_absent_from_gold_strict_counts_them() -> None:
    rows = [row("q1", "MI, HYP", "MI"), row("q2", "CD", "CD")]
    report = score_results(rows, "ptb-xl-super")
    assert report.compatible.accuracy == 1.0  # HYP is outside the gold label space
    assert report.compatible.hamming_loss == 0.0
    assert report.strict.accuracy == 0.5
    assert report.strict.hamming_loss == pytest.approx(1 / 6)
    assert report.strict.per_class["HYP"].support == 0
    assert any("dropped" in note for note in report.notes)


# --- multiple choice ------------------------------------------------------------------------


def test_answer_based_on_is_b_for_compatible_and_wrong_for_strict() -> None:
    rows = [row("q1", "Answer: Based on the ECG findings, atrial fibrillation", "B", MCQ_PROMPT)]
    report = score_results(rows, "mcq")
    assert report.compatible.accuracy == 1.0
    assert report.compatible.unparsed_rate == 0.0
    assert report.strict.accuracy == 0.0
    assert report.strict.unparsed_rate == 1.0
    assert report.items[0].strict_predicted == "(unparsed)"


def test_unreadable_answers_get_seeded_random_letters_in_file_order() -> None:
    four = MCQ_PROMPT
    eight = "Which?\n" + "\n".join(f"{c}. option {c}" for c in "ABCDEFGH")
    rows = [
        row("q1", "no idea", "A", four),
        row("q2", "C", "C", four),
        row("q3", "unsure", "A", eight),
        row("q4", "cannot say", "D", four),
    ]
    report = score_results(rows, "mcq")
    rng = random.Random(42)
    expected = [rng.choice("ABCD"), "C", rng.choice("ABCDEFGH"), rng.choice("ABCD")]
    matrix_labels = report.compatible.confusion["labels"]
    matrix = np.array(report.compatible.confusion["matrix"])
    got = sorted(
        (matrix_labels[i], matrix_labels[j])
        for i, j in zip(*np.nonzero(matrix), strict=True)
        for _ in range(matrix[i, j])
    )
    assert got == sorted(zip(["A", "C", "A", "D"], expected, strict=True))
    assert report.compatible.unparsed_rate == 0.75
    assert report.strict.accuracy == 0.25
    assert score_results(rows, "mcq").compatible == report.compatible  # reproducible


def test_mcq_per_class_and_confusion_with_unparsed_column() -> None:
    rows = [
        row("q1", "A", "A", MCQ_PROMPT),
        row("q2", "B", "A", MCQ_PROMPT),
        row("q3", "??", "B", MCQ_PROMPT),
    ]
    strict = score_results(rows, "mcq").strict
    assert strict.confusion["labels"] == ["A", "B", "(unparsed)"]
    assert strict.confusion["matrix"] == [[1, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert strict.per_class["A"].recall == 0.5
    assert strict.per_class["B"].precision == 0.0
    assert strict.macro_f1 is None  # ECGBench scores multiple choice by accuracy only


def test_mcq_gold_must_be_a_letter() -> None:
    with pytest.raises(InputError, match="option letter"):
        score_results([row("q1", "A", "sinus rhythm")], "mcq")


# --- ECG-QA --------------------------------------------------------------------------------

QA = "Is the rhythm regular? Options: yes, no, not sure"


def test_ecgqa_compatible_char_set_quirk_versus_strict_sets() -> None:
    rows = [
        row("q1", "yes", "yes", QA),
        row("q2", "Not sure", "not sure", QA),  # finds "no" and "not sure": same characters
        row("q3", "no", "on", QA),  # same characters: compatible counts it right
        row("q4", "perhaps", "no", QA),
        row("q5", "Not sure", "not sure", QA + "."),  # candidate "not sure." never matches
    ]
    report = score_results(rows, "ecgqa")
    assert [item.correct for item in report.items] == [True, True, True, False, False]
    assert [item.strict_correct for item in report.items] == [True, True, False, False, True]
    assert report.compatible.accuracy == pytest.approx(0.6)
    assert report.strict.accuracy == pytest.approx(0.6)
    assert report.compatible.unparsed_rate == pytest.approx(0.2)
    assert report.items[4].predicted == "no"
    assert report.compatible.macro_auc is None


# --- JSON, gold, errors -----------------------------------------------------------------------


def test_json_has_the_documented_keys_and_is_valid_json() -> None:
    rows = [row("q1", "NORM", "NORM"), row("q2", "MI", "NORM, MI"), row("q3", "", "CD")]
    data = json.loads(json.dumps(score_results(rows, "ptb-xl-super").to_json(), allow_nan=False))
    for key in (
        "macro_f1",
        "macro_auc",
        "hamming_loss",
        "accuracy",
        "unparsed_rate",
        "strict",
        "per_class",
    ):
        assert key in data
    for key in ("macro_f1", "macro_auc", "hamming_loss", "accuracy", "unparsed_rate", "per_class"):
        assert key in data["strict"]
    assert set(data["per_class"]["MI"]) >= {"precision", "recall", "f1", "support"}
    assert data["accuracy"] == 33.3  # x100, one decimal


def test_rows_without_gold_are_refused_and_attach_gold_fills_them(tmp_path: Path) -> None:
    rows = [row("q1", "NORM", None), row("q2", "MI", "MI")]
    with pytest.raises(InputError, match="no gold answer"):
        score_results(rows, "ptb-xl-super")
    items = [EvalItem("q1", tmp_path / "a.png", "Which?", "NORM")]
    filled = attach_gold(rows, items)
    assert filled[0].gold == "NORM" and filled[0].prompt == "Which?"
    assert score_results(filled, "ptb-xl-super").compatible.accuracy == 1.0
    with pytest.raises(InputError, match="not in the dataset"):
        attach_gold([row("q9", "x", None)], items)


def test_no_rows_is_an_input_error() -> None:
    with pytest.raises(InputError):
        score_results([], "cpsc")


def test_rows_with_errors_are_noted_and_unparsed() -> None:
    rows = [row("q1", "", "MI", error="image unreadable"), row("q2", "MI", "MI")]
    report = score_results(rows, "ptb-xl-super")
    assert report.compatible.unparsed_rate == 0.5
    assert any("could not be used" in note for note in report.notes)


def test_check_gold_before_a_run(tmp_path: Path) -> None:
    def item(qid: str, gold: str) -> EvalItem:
        return EvalItem(qid, tmp_path / "a.png", "Q?", gold, where=f"line {qid}")

    with pytest.raises(InputError, match="line 3"):
        check_gold([item("2", "B"), item("3", "sinus rhythm")], "mcq")
    assert check_gold([item("2", "B. AF")], "mcq") == []
    warnings_ = check_gold([item("2", "MI"), item("3", "normal ECG")], "ptb-xl-super")
    assert len(warnings_) == 1 and "line 3" in warnings_[0]
    assert check_gold([item("2", "anything")], "ecgqa") == []
