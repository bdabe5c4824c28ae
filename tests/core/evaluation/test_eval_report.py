"""PDF report, confusion figures, terminal tables and comparisons."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from ecgviewer.core.errors import InputError, ReportError
from ecgviewer.core.evaluation.compare import compare_runs
from ecgviewer.core.evaluation.figures import OTHER, confusion_drawing, pool_matrix
from ecgviewer.core.evaluation.report import flatten, write_eval_report
from ecgviewer.core.evaluation.results_io import ResultRow
from ecgviewer.core.evaluation.scoring import score_results
from ecgviewer.core.evaluation.text_output import format_comparison, format_score

MCQ_PROMPT = "Which rhythm?\nA. Sinus\nB. AF\nC. Flutter\nD. SVT"


def row(qid: str, text: str, gold: str, prompt: str = "") -> ResultRow:
    return ResultRow(question_id=qid, prompt=prompt, text=text, gold=gold)


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def mcq_rows() -> list[ResultRow]:
    answers = [("A", "A"), ("B", "B"), ("C", "B"), ("Answer: Based on it", "B"), ("D", "D")]
    return [row(f"q{i}", text, gold, MCQ_PROMPT) for i, (text, gold) in enumerate(answers)]


def test_multilabel_report_has_metrics_classes_figure_and_provenance(tmp_path: Path) -> None:
    rows = [row("1", "NORM", "NORM"), row("2", "MI", "MI, CD"), row("3", "CD", "CD")]
    report = score_results(rows, "ptb-xl-super")
    provenance = {"model_id": "medgemma-Q4_K_M", "provenance": {"model": {"sha256": "ab" * 32}}}
    out = write_eval_report(
        report, tmp_path / "run.pdf", results_path=Path("r.jsonl"), provenance=provenance
    )
    text = pdf_text(out)
    expected = (
        "Macro AUC", "Macro F1", "Hamming loss", "Accuracy (exact match)", "Unparsed answers",
        "Per class", "Confusion", "Research use only", "medgemma-Q4_K_M", "ab" * 32,
        "provenance.model.sha256", "PULSE-7B", "82.4",
    )  # fmt: skip
    for phrase in expected:
        assert phrase in text, phrase
    assert [p.name for p in tmp_path.iterdir()] == ["run.pdf"]


def test_mcq_report_draws_a_letter_matrix(tmp_path: Path) -> None:
    report = score_results(mcq_rows(), "mcq")
    drawing = confusion_drawing(report.compatible, 480)
    assert drawing is not None and len(drawing.contents) > 16
    text = pdf_text(write_eval_report(report, tmp_path / "mcq.pdf"))
    assert "Accuracy" in text and "MMMU-ECG" in text and "predicted" in text


def test_large_ecgqa_matrix_is_pooled(tmp_path: Path) -> None:
    options = [f"opt-{c}{c}" for c in "abcdefghijklmnopqrst"]
    prompt = "Which? Options: " + ", ".join(options)
    rows = [row(str(i), options[(i * 7) % 20], options[i % 20], prompt) for i in range(40)]
    report = score_results(rows, "ecgqa")
    assert len(report.compatible.confusion["labels"]) == 20
    text = pdf_text(write_eval_report(report, tmp_path / "qa.pdf"))
    assert OTHER in text
    assert "most frequent errors" in format_score(report)


def test_pool_matrix_keeps_the_most_frequent_gold_labels() -> None:
    labels = ["a", "b", "c", "d"]
    matrix = [[5, 0, 0, 1], [0, 1, 0, 0], [0, 0, 9, 0], [2, 0, 0, 3]]
    kept, pooled = pool_matrix(labels, matrix, 3)
    assert kept == ["a", "c", OTHER]
    assert pooled == [[5, 0, 1], [0, 9, 0], [2, 0, 4]]
    assert sum(map(sum, pooled)) == sum(map(sum, matrix))


def test_report_failure_is_a_report_error_and_leaves_nothing(tmp_path: Path) -> None:
    report = score_results(mcq_rows(), "mcq")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ReportError, match="folder does not exist"):
        write_eval_report(report, blocker / "x.pdf")
    target = tmp_path / "dir.pdf"
    target.mkdir()  # cannot be replaced by a file
    with pytest.raises(ReportError):
        write_eval_report(report, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.pdf", "file"]


def test_page_size_and_unprintable_names(tmp_path: Path) -> None:
    rows = [row("1", "MI", "MI"), row("2", "CD", "MI, CD")]
    report = score_results(rows, "ptb-xl-super")
    provenance = {"model": "模型-Q4.gguf", "dataset": "Überprüfung"}
    out = write_eval_report(
        report, tmp_path / "letter.pdf", provenance=provenance, page_size="Letter"
    )
    reader = PdfReader(out)
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [612, 792]
    text = pdf_text(out)
    assert "Überprüfung" in text and "-Q4.gguf" in text


def test_flatten_nested_provenance() -> None:
    rows = flatten({"a": {"b": 1, "c": None}, "s": [{"x": 1}], "l": [1, 2]})
    assert rows == [("a.b", "1"), ("a.c", ""), ("s.1.x", "1"), ("l", "1, 2")]


def test_score_table_shows_compatible_and_strict_side_by_side() -> None:
    text = format_score(score_results(mcq_rows(), "mcq"))
    assert "Compatible" in text and "Strict" in text
    accuracy_line = next(line for line in text.splitlines() if line.startswith("Accuracy"))
    assert accuracy_line.split()[-2:] == ["80.0", "60.0"]
    assert "rows: gold, columns: predicted" in text
    assert "random letter" in text


def test_comparison_lists_disagreements_and_deltas() -> None:
    a = mcq_rows()
    b = [*a[:2], row("q2", "B", "B", MCQ_PROMPT), *a[3:4], row("q9", "A", "A", MCQ_PROMPT)]
    comparison = compare_runs(a, b, "mcq", name_a="Q4", name_b="Q8")
    assert comparison.n_common == 4
    assert comparison.only_a == ("q4",) and comparison.only_b == ("q9",)
    assert [d.question_id for d in comparison.disagreements] == ["q2"]
    text = format_comparison(comparison)
    assert "Readings that differ: 1" in text
    assert "+25.0" in text  # accuracy 75 -> 100 on the common items
    assert "q2" in text and "B *" in text


def test_comparison_needs_common_questions_with_the_same_gold() -> None:
    with pytest.raises(InputError, match="no question in common"):
        compare_runs([row("a", "A", "A")], [row("b", "A", "A")], "mcq")
    with pytest.raises(InputError, match="different gold"):
        compare_runs([row("a", "A", "A")], [row("a", "A", "B")], "mcq")
