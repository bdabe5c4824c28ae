"""The runner: one synced row per item, resume after a crash, limit, cancel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ecgviewer.core.errors import Cancelled, ImageError, InputError
from ecgviewer.core.evaluation.datasets import EvalItem
from ecgviewer.core.evaluation.results_io import read_results
from ecgviewer.core.evaluation.runner import (
    check_output,
    meta_path,
    read_run_meta,
    run_eval,
    write_run_meta,
)


def items_in(folder: Path, count: int = 5) -> list[EvalItem]:
    return [
        EvalItem(f"q{i}", folder / "a.png", f"Question {i}?", f"gold {i}", "a.png")
        for i in range(count)
    ]


class FakeModel:
    """Answers "answer to <id>", records what it was asked, can fail after N answers."""

    def __init__(self, fail_after: int | None = None, error: Exception | None = None) -> None:
        self.asked: list[str] = []
        self.fail_after = fail_after
        self.error = error or RuntimeError("engine crashed")

    def __call__(self, item: EvalItem) -> tuple[str, dict[str, Any]]:
        if self.fail_after is not None and len(self.asked) >= self.fail_after:
            raise self.error
        self.asked.append(item.question_id)
        return f"  answer to {item.question_id}\n", {"total_ms": 12.5, "decode_tokens": 3}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_writes_one_row_per_item_in_pulse_shape(tmp_path: Path) -> None:
    out = tmp_path / "out" / "r.jsonl"
    progress: list[tuple[int, int]] = []
    summary = run_eval(
        items_in(tmp_path, 3),
        FakeModel(),
        out,
        model_id="m-Q4",
        progress=lambda d, t: progress.append((d, t)),
    )
    rows = lines(out)
    assert [r["question_id"] for r in rows] == ["q0", "q1", "q2"]
    first = rows[0]
    assert {"question_id", "prompt", "text", "answer_id", "model_id", "gold", "timings"} <= set(
        first
    )
    assert first["prompt"] == "Question 0?"
    assert first["text"] == "answer to q0"  # surrounding whitespace removed, as PULSE writes it
    assert first["gold"] == "gold 0" and first["model_id"] == "m-Q4"
    assert first["timings"]["total_ms"] == 12.5 and "wall_ms" in first["timings"]
    assert len({r["answer_id"] for r in rows}) == 3
    assert progress == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert summary.complete and summary.written == 3 and summary.already_done == 0


def test_refuses_to_overwrite_without_resume(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_eval(items_in(tmp_path, 1), FakeModel(), out, model_id="m")
    with pytest.raises(InputError, match="--resume"):
        run_eval(items_in(tmp_path, 1), FakeModel(), out, model_id="m")


def test_resume_after_a_crash_answers_only_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    with pytest.raises(RuntimeError):
        run_eval(items_in(tmp_path), FakeModel(fail_after=2), out, model_id="m")
    assert [r["question_id"] for r in lines(out)] == ["q0", "q1"]  # synced before the crash
    model = FakeModel()
    summary = run_eval(items_in(tmp_path), model, out, model_id="m", resume=True)
    assert model.asked == ["q2", "q3", "q4"]
    assert summary.already_done == 2 and summary.written == 3 and summary.complete
    assert [r["question_id"] for r in lines(out)] == ["q0", "q1", "q2", "q3", "q4"]


def test_resume_repairs_a_truncated_last_line(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_eval(items_in(tmp_path, 3), FakeModel(), out, model_id="m")
    data = out.read_bytes()
    out.write_bytes(data[: len(data) - 25])  # killed while writing q2
    assert read_results(out).truncated_tail
    model = FakeModel()
    summary = run_eval(items_in(tmp_path, 3), model, out, model_id="m", resume=True)
    assert model.asked == ["q2"]
    assert summary.repaired_tail
    assert [r["question_id"] for r in lines(out)] == ["q0", "q1", "q2"]


def test_resume_adds_a_missing_final_line_break(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_eval(items_in(tmp_path, 1), FakeModel(), out, model_id="m")
    out.write_bytes(out.read_bytes().rstrip(b"\n"))
    run_eval(items_in(tmp_path, 2), FakeModel(), out, model_id="m", resume=True)
    assert [r["question_id"] for r in lines(out)] == ["q0", "q1"]


def test_corrupt_middle_line_is_an_error_with_its_number(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"question_id": "q0", "text": "x"}\nnot json\n{"question_id": "q1"}\n')
    with pytest.raises(InputError, match="line 2"):
        run_eval(items_in(tmp_path, 2), FakeModel(), out, model_id="", resume=True)


def test_resume_with_another_model_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_eval(items_in(tmp_path, 1), FakeModel(), out, model_id="model-Q4_K_M")
    with pytest.raises(InputError, match="model-Q4_K_M"):
        check_output(out, resume=True, model_id="model-Q8_0")


def test_limit_takes_the_first_items_and_resume_keeps_it(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    summary = run_eval(items_in(tmp_path), FakeModel(), out, model_id="m", limit=2)
    assert summary.total == 2 and summary.complete
    summary = run_eval(items_in(tmp_path), FakeModel(), out, model_id="m", limit=3, resume=True)
    assert summary.already_done == 2 and summary.written == 1
    with pytest.raises(InputError, match="limit"):
        run_eval(items_in(tmp_path), FakeModel(), out, model_id="m", limit=0, resume=True)


def test_stop_flag_is_checked_between_items(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    model = FakeModel()
    summary = run_eval(
        items_in(tmp_path), model, out, model_id="m", should_stop=lambda: len(model.asked) >= 2
    )
    assert summary.cancelled and not summary.complete
    assert len(lines(out)) == 2


def test_cancelled_mid_answer_writes_nothing_for_that_item(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    summary = run_eval(
        items_in(tmp_path), FakeModel(fail_after=1, error=Cancelled()), out, model_id="m"
    )
    assert summary.cancelled and summary.written == 1
    assert len(lines(out)) == 1


def test_unusable_image_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    class Picky(FakeModel):
        def __call__(self, item: EvalItem) -> tuple[str, dict[str, Any]]:
            if item.question_id == "q1":
                raise ImageError("The image cannot be decoded.")
            return super().__call__(item)

    out = tmp_path / "r.jsonl"
    summary = run_eval(items_in(tmp_path, 3), Picky(), out, model_id="m")
    rows = lines(out)
    assert summary.failed == 1 and summary.complete
    assert rows[1]["error"] == "The image cannot be decoded." and rows[1]["text"] == ""
    assert "error" not in rows[0]


def test_run_meta_is_kept_and_sessions_appended(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    write_run_meta(out, {"model_id": "m", "sessions": [{"resume": False}]})
    write_run_meta(out, {"model_id": "ignored", "sessions": [{"resume": True}]})
    meta = read_run_meta(out)
    assert meta is not None and meta["model_id"] == "m"
    assert meta["sessions"] == [{"resume": False}, {"resume": True}]
    assert meta_path(out).name == "r.jsonl.meta.json"
    assert not list(tmp_path.glob("*.tmp"))
    assert read_run_meta(tmp_path / "other.jsonl") is None
