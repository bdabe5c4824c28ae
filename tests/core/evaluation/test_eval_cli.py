"""End to end through the CLI: run (fake model), resume, score, compare, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from ecgviewer.core.cli.main import main
from ecgviewer.core.evaluation import model_answers
from ecgviewer.core.evaluation.datasets import EvalItem

REPO = Path(__file__).resolve().parents[3]

# Two fake "quantisations" of one model: they differ on q3 and q4.
ANSWERS_Q4 = {
    "q1": "NORM",
    "q2": "MI, STTC",
    "q3": "Answer: CD",
    "q4": "I cannot tell",
    "q5": "HYP",
}
ANSWERS_Q8 = {**ANSWERS_Q4, "q3": "STTC", "q4": "NORM"}


def fake_factory(answers: dict[str, str], asked: list[str] | None = None) -> Any:
    def make_answer_fn(args: Any, *_: Any) -> Any:
        assert args.seed == 42 and args.max_tokens == 1024  # defaults handed to the runtime

        def answer(item: EvalItem) -> tuple[str, dict[str, Any]]:
            assert item.image_path.is_file()
            if asked is not None:
                asked.append(item.question_id)
            return answers[item.question_id], {"total_ms": 5.0}

        return answer

    return make_answer_fn


@pytest.fixture
def dataset(image_dir: Path) -> Path:
    rows = [
        ("q1", "images/a.png", "NORM"),
        ("q2", "images/b.png", "MI, STTC"),
        ("q3", "images/a.png", "CD"),
        ("q4", "images/b.png", "NORM"),
        ("q5", "images/a.png", "HYP, CD"),
    ]
    text = "id,image,question,answer\n" + "".join(
        f'{qid},{image},"Which diagnostic classes? Choose from NORM, MI, STTC, CD, HYP.","{gold}"\n'
        for qid, image, gold in rows
    )
    (image_dir / "labels.csv").write_text(text, encoding="utf-8")
    return image_dir


@pytest.fixture
def model_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for name in ("medgemma-ecg-Q4_K_M.gguf", "medgemma-ecg-Q8_0.gguf", "mmproj-F16.gguf"):
        files[name] = tmp_path / name
        files[name].write_bytes(name.encode())
    return files


@dataclass(frozen=True)
class Setup:
    """A labelled set, fake model files and a folder for outputs (home set aside)."""

    dataset: Path
    models: dict[str, Path]
    tmp: Path


@pytest.fixture
def setup(ecg_home: Path, dataset: Path, model_files: dict[str, Path], tmp_path: Path) -> Setup:
    return Setup(dataset, model_files, tmp_path)


def run_args(dataset: Path, model: Path, mmproj: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "run", str(dataset), "--model", str(model), "--mmproj", str(mmproj),
            "--task", "ptb-xl-super", "--out", str(out), *extra]  # fmt: skip


def test_run_resume_score_compare_report(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset, model_files, tmp_path = setup.dataset, setup.models, setup.tmp
    mmproj = model_files["mmproj-F16.gguf"]
    q4, q8 = tmp_path / "q4.jsonl", tmp_path / "q8.jsonl"
    asked: list[str] = []
    monkeypatch.setattr(model_answers, "make_answer_fn", fake_factory(ANSWERS_Q4, asked))

    # A first, limited run, then a resumed one that answers only the rest.
    assert (
        main(run_args(dataset, model_files["medgemma-ecg-Q4_K_M.gguf"], mmproj, q4, "--limit", "2"))
        == 0
    )
    assert (
        main(run_args(dataset, model_files["medgemma-ecg-Q4_K_M.gguf"], mmproj, q4, "--resume"))
        == 0
    )
    assert asked == ["q1", "q2", "q3", "q4", "q5"]
    out = capsys.readouterr().out
    assert "3 answered now, 2 already done" in out
    assert "Macro AUC" in out  # the score is printed after the run

    rows = [json.loads(line) for line in q4.read_text().splitlines()]
    assert [r["model_id"] for r in rows] == ["medgemma-ecg-Q4_K_M"] * 5
    meta = json.loads((tmp_path / "q4.jsonl.meta.json").read_text())
    assert meta["provenance"]["mmproj"]["name"] == "mmproj-F16.gguf"
    assert len(meta["sessions"]) == 2

    monkeypatch.setattr(model_answers, "make_answer_fn", fake_factory(ANSWERS_Q8))
    assert main(run_args(dataset, model_files["medgemma-ecg-Q8_0.gguf"], mmproj, q8)) == 0
    capsys.readouterr()

    assert main(["eval", "score", str(q4), "--task", "ptb-xl-super", "--json"]) == 0
    score = json.loads(capsys.readouterr().out)
    # Gold: NORM | MI,STTC | CD | NORM | HYP,CD. Q4 reads: NORM | MI,STTC | CD | - | HYP.
    assert score["n_items"] == 5
    assert score["accuracy"] == 60.0
    assert score["unparsed_rate"] == 20.0
    assert score["per_class"]["CD"] == {
        "precision": 100.0,
        "recall": 50.0,
        "f1": 66.7,
        "support": 2,
        "auc": 75.0,
    }
    assert score["strict"]["accuracy"] == 60.0

    assert main(["eval", "score", str(q4), "--task", "ptb-xl-super"]) == 0
    table = capsys.readouterr().out
    assert "Compatible" in table and "Strict" in table and "TP" in table

    assert main(["eval", "compare", str(q4), str(q8), "--task", "ptb-xl-super", "--json"]) == 0
    comparison = json.loads(capsys.readouterr().out)
    assert comparison["n_common"] == 5 and comparison["n_text_differs"] == 2
    assert [d["question_id"] for d in comparison["disagreements"]] == ["q3", "q4"]
    q4_item = comparison["disagreements"][1]
    assert q4_item["a"]["predicted"] == "(unparsed)" and q4_item["b"]["predicted"] == "NORM"
    assert q4_item["b"]["correct"] is True

    assert main(["eval", "compare", str(q4), str(q8), "--task", "ptb-xl-super"]) == 0
    text = capsys.readouterr().out
    assert "Readings that differ: 2" in text and "medgemma-ecg-Q8_0" in text

    pdf = tmp_path / "q4.pdf"
    assert main(["eval", "report", str(q4), "--task", "ptb-xl-super", "--out", str(pdf)]) == 0
    content = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    for expected in (
        "Macro F1",
        "Macro AUC",
        "Hamming loss",
        "Research use only",
        "mmproj-F16.gguf",
        "PULSE-7B",
    ):
        assert expected in content


def test_run_refuses_an_existing_output_before_loading_the_model(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset, model_files, tmp_path = setup.dataset, setup.models, setup.tmp
    out = tmp_path / "r.jsonl"
    out.write_text('{"question_id": "q1", "text": "NORM", "gold": "NORM", "model_id": "x"}\n')
    loaded: list[bool] = []
    monkeypatch.setattr(model_answers, "make_answer_fn", lambda args, *_: loaded.append(True))
    args = run_args(dataset, model_files["mmproj-F16.gguf"], model_files["mmproj-F16.gguf"], out)
    assert main(args) == 2
    assert main([*args, "--resume"]) == 2  # another model's answers
    assert not loaded
    assert "--resume" in capsys.readouterr().err


def test_run_with_files_that_are_not_models_is_a_model_error(
    ecg_home: Path,
    dataset: Path,
    model_files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mmproj = model_files["mmproj-F16.gguf"]
    out = tmp_path / "r.jsonl"
    assert main(run_args(dataset, model_files["medgemma-ecg-Q4_K_M.gguf"], mmproj, out)) == 3
    assert "is not a GGUF file" in capsys.readouterr().err  # preflight, before any output
    assert not out.exists()


def test_bad_dataset_is_reported_with_exit_code_2(
    ecg_home: Path,
    image_dir: Path,
    model_files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (image_dir / "labels.csv").write_text("image,question\nimages/a.png,Q\n")
    mmproj = model_files["mmproj-F16.gguf"]
    assert main(run_args(image_dir, mmproj, mmproj, tmp_path / "r.jsonl")) == 2
    assert "answer" in capsys.readouterr().err


def test_score_with_dataset_fills_gold_for_pulse_output(
    ecg_home: Path, dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pulse = tmp_path / "pulse.jsonl"
    pulse.write_text(
        "\n".join(
            json.dumps({"question_id": q, "prompt": {"prompt": "x"}, "text": a})
            for q, a in ANSWERS_Q4.items()
        )
        + "\n"
    )
    assert main(["eval", "score", str(pulse), "--task", "ptb-xl-super"]) == 2
    assert "--dataset" in capsys.readouterr().err
    args = [
        "eval",
        "score",
        str(pulse),
        "--task",
        "ptb-xl-super",
        "--json",
        "--dataset",
        str(dataset),
    ]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == 60.0


def test_score_skips_an_incomplete_last_line_and_says_so(
    ecg_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "r.jsonl"
    results.write_text('{"question_id": "a", "text": "MI", "gold": "MI"}\n{"question_id": "b", "te')
    assert main(["eval", "score", str(results), "--task", "ptb-xl-super", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n_items"] == 1
    assert any("incomplete last line" in note for note in data["notes"])


def test_score_json_in_a_subprocess(tmp_path: Path) -> None:
    results = tmp_path / "r.jsonl"
    rows = [
        {
            "question_id": "1",
            "text": "Answer: Based on the ECG, atrial fibrillation",
            "gold": "B",
            "prompt": "A. x\nB. y\nC. z\nD. w",
        },
        {"question_id": "2", "text": "C", "gold": "C", "prompt": "A. x\nB. y\nC. z\nD. w"},
    ]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {**os.environ, "ECGVIEWER_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "ecgviewer", "eval", "score", str(results)]
    done = subprocess.run(
        [*command, "--task", "mcq", "--json"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["accuracy"] == 100.0
    assert data["strict"]["accuracy"] == 50.0
    assert data["strict"]["unparsed_rate"] == 50.0
    assert "PySide6" not in done.stderr


def test_evaluation_modules_import_no_qt(tmp_path: Path) -> None:
    modules = ["ecgviewer.core.cli.eval_cmd"] + [
        f"ecgviewer.core.evaluation.{name}"
        for name in ("compare", "datasets", "figures", "metrics", "model_answers", "parsing",
                     "report", "runner", "scoring", "text_output")
    ]  # fmt: skip
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
        check=True, env=env,
    )  # fmt: skip
    assert done.stdout.strip() == "[]"
