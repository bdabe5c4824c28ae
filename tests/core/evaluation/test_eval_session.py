"""`session`: the eval run / score / report steps shared by the CLI and the window (fake model)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecgviewer.core.errors import Cancelled, InputError
from ecgviewer.core.evaluation import model_answers
from ecgviewer.core.evaluation.datasets import EvalItem
from ecgviewer.core.evaluation.runner import read_run_meta
from ecgviewer.core.evaluation.session import (
    EvalRunRequest,
    RunControl,
    run_evaluation,
    score_file,
    write_report,
)

QUESTION = "Which diagnostic classes? Choose from NORM, MI, STTC, CD, HYP."


class FakeAnswers:
    """Answers "NORM"; can hold one answer until cancelled, records close()."""

    def __init__(self, hold_on: str = "", on_hold: Callable[[], None] | None = None) -> None:
        self.hold_on = hold_on
        self.on_hold = on_hold
        self.asked: list[str] = []
        self.cancelled = threading.Event()
        self.closed = False

    def __call__(self, item: EvalItem) -> tuple[str, dict[str, Any]]:
        self.asked.append(item.question_id)
        if item.question_id == self.hold_on:
            if self.on_hold is not None:  # stopped from another thread, as the GUI does
                threading.Thread(target=self.on_hold).start()
            assert self.cancelled.wait(10), "cancel() never came"
            raise Cancelled()
        return "NORM", {"total_ms": 1.0}

    def cancel(self) -> None:
        self.cancelled.set()

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def labelled(image_dir: Path, ecg_home: Path) -> Path:
    rows = "".join(f'q{n},images/a.png,"{QUESTION}",NORM\n' for n in range(1, 5))
    (image_dir / "labels.csv").write_text("id,image,question,answer\n" + rows, encoding="utf-8")
    return image_dir


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    model, mmproj = tmp_path / "model-Q4.gguf", tmp_path / "mmproj.gguf"
    model.write_bytes(b"model")
    mmproj.write_bytes(b"mmproj")
    return model, mmproj


def use(monkeypatch: pytest.MonkeyPatch, answers: FakeAnswers) -> None:
    monkeypatch.setattr(model_answers, "make_answer_fn", lambda args, *_: answers)


def test_a_run_writes_rows_and_the_description_and_closes_the_model(
    labelled: Path, pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = FakeAnswers()
    use(monkeypatch, answers)
    out = tmp_path / "out.jsonl"
    seen: list[tuple[int, int]] = []
    args = EvalRunRequest(labelled, model=pair[0], mmproj=pair[1], task="ptb-xl-super", out=out)
    summary = run_evaluation(args, progress=lambda done, total: seen.append((done, total)))
    assert summary.complete and summary.written == 4
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert answers.closed
    meta = read_run_meta(out)
    assert meta is not None and meta["model_id"] == "model-Q4"
    assert meta["decoding"] == {"temperature": 0.0, "seed": 42, "max_tokens": 1024}
    assert score_file(out, "ptb-xl-super").n_items == 4
    pdf = write_report(out, "ptb-xl-super", tmp_path / "run.pdf", page_size="A4")
    assert pdf.read_bytes().startswith(b"%PDF")


def test_stop_cancels_the_answer_in_progress_and_the_model_is_closed(
    labelled: Path, pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = RunControl()
    answers = FakeAnswers(hold_on="q2", on_hold=control.stop)
    use(monkeypatch, answers)
    out = tmp_path / "out.jsonl"
    args = EvalRunRequest(labelled, model=pair[0], mmproj=pair[1], task="ptb-xl-super", out=out)
    summary = run_evaluation(args, control=control)
    assert summary.cancelled and summary.written == 1
    assert answers.asked == ["q1", "q2"] and answers.closed
    assert [json.loads(line)["question_id"] for line in out.read_text().splitlines()] == ["q1"]
    control.stop()  # after the run: the closed answer function is no longer called


def test_a_stop_before_the_first_item_answers_nothing(
    labelled: Path, pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = FakeAnswers()
    use(monkeypatch, answers)
    control = RunControl()
    control.stop()
    out = tmp_path / "out.jsonl"
    args = EvalRunRequest(labelled, model=pair[0], mmproj=pair[1], task="ptb-xl-super", out=out)
    summary = run_evaluation(args, control=control)
    assert summary.cancelled and summary.written == 0 and answers.asked == []
    assert answers.closed


def test_inputs_are_checked_before_the_model_is_loaded(
    labelled: Path, pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[bool] = []
    monkeypatch.setattr(model_answers, "make_answer_fn", lambda args, *_: loaded.append(True))
    out = tmp_path / "out.jsonl"
    out.write_text('{"question_id": "q1"}\n')
    args = EvalRunRequest(labelled, model=pair[0], mmproj=pair[1], task="ptb-xl-super", out=out)
    with pytest.raises(InputError, match="already exists"):
        run_evaluation(args)
    bad_limit = EvalRunRequest(
        labelled, model=pair[0], mmproj=pair[1], task="mcq", out=out, limit=0
    )
    with pytest.raises(InputError, match="at least 1"):
        run_evaluation(bad_limit)
    assert loaded == []
