"""Run a model over an evaluation set, one synced results line per item, resumable.

The model is reached through an `AnswerFn` only, so this module knows nothing
about llama.cpp: the CLI passes the real one, tests pass a fake. Runs on the
calling thread (the CLI's main thread, or a GUI worker thread); `should_stop`
is polled between items and an `answer_fn` may raise `Cancelled` mid-answer.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, Protocol

from ecgviewer.core.atomic import describe_os_error, write_text_atomically
from ecgviewer.core.errors import Cancelled, ImageError, InputError, StorageError
from ecgviewer.core.evaluation.datasets import META_SUFFIX, EvalItem
from ecgviewer.core.evaluation.results_io import (
    ResultsFile,
    append_row,
    read_results,
    repair_tail,
)

Progress = Callable[[int, int], None]
"""Called with (items done, items in the run) after each item, and once at the start."""
StopCheck = Callable[[], bool]


class AnswerFn(Protocol):
    """Answers one item: returns the model's text and its timings (JSON-ready, in ms).

    Contract: greedy decoding with a fixed seed, the image placed before the
    question, `item.question` used as given. Raise `ImageError` when this item's
    image cannot be used (the run records it and goes on), `Cancelled` when
    stopped; any other error ends the run, which `--resume` continues. An
    answer function may also have a `close()` method; the CLI calls it at the end.
    """

    def __call__(self, item: EvalItem) -> tuple[str, dict[str, Any]]: ...


@dataclass(frozen=True)
class RunSummary:
    """What one call of `run_eval` did."""

    out_path: Path
    total: int  # items in this run (after the limit)
    already_done: int  # found in the results file and skipped
    written: int  # rows appended by this call
    failed: int  # rows appended with an `error` (unusable image)
    cancelled: bool
    repaired_tail: bool  # an incomplete last line from a crash was cut off
    elapsed_s: float

    @property
    def per_minute(self) -> float:
        """Throughput of this call: rows written per minute of its run (0 when none)."""
        return self.written * 60.0 / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def complete(self) -> bool:
        """True when every item of the run now has a row."""
        return self.already_done + self.written == self.total


def check_output(out_path: Path, *, resume: bool, model_id: str) -> ResultsFile | None:
    """The existing results to resume from, None for a fresh file.

    Refuses to touch a non-empty file unless `resume` is set, so a finished run
    is never overwritten by accident, and refuses to mix answers of two models.
    Cheap: the CLI calls it before loading the model.
    """
    if not out_path.exists() or out_path.stat().st_size == 0:
        return None
    if not resume:
        raise InputError(
            f"The results file {out_path} already exists.",
            hint="Add --resume to continue it, or choose another --out.",
        )
    existing = read_results(out_path)
    others = sorted({row.model_id for row in existing.rows if row.model_id != model_id})
    if others:
        raise InputError(
            f"{out_path.name} holds answers from {', '.join(others)}, not {model_id}.",
            hint="Resume with the same model, or write to another --out.",
        )
    return existing


def run_eval(
    items: Sequence[EvalItem],
    answer_fn: AnswerFn,
    out_path: Path,
    *,
    model_id: str,
    resume: bool = False,
    limit: int | None = None,
    progress: Progress | None = None,
    should_stop: StopCheck | None = None,
    concurrency: int = 1,
) -> RunSummary:
    """Answer every item not yet in `out_path`, appending one row per item.

    With `concurrency` N > 1 (an inference server), N items are answered at a
    time on worker threads (`answer_fn` must allow that); rows are still
    written one at a time, in the set's order, as each is done.
    """
    started = time.monotonic()
    selected = _limited(items, limit)
    existing = check_output(out_path, resume=resume, model_id=model_id)
    done_ids = _prepare_existing(existing)
    todo = [item for item in selected if item.question_id not in done_ids]
    already = len(selected) - len(todo)
    answer_all: Callable[..., tuple[int, int, bool]] = _answer_all
    if concurrency > 1:
        from ecgviewer.core.evaluation.concurrent import answer_concurrently

        answer_all = partial(answer_concurrently, concurrency)
    written, failed, cancelled = answer_all(
        todo,
        answer_fn,
        out_path=out_path,
        model_id=model_id,
        counts=(already, len(selected)),
        progress=progress,
        should_stop=should_stop,
    )
    return RunSummary(
        out_path=out_path,
        total=len(selected),
        already_done=already,
        written=written,
        failed=failed,
        cancelled=cancelled,
        repaired_tail=existing is not None and existing.truncated_tail,
        elapsed_s=time.monotonic() - started,
    )


def _limited(items: Sequence[EvalItem], limit: int | None) -> list[EvalItem]:
    if limit is None:
        return list(items)
    if limit < 1:
        raise InputError("--limit must be at least 1.")
    return list(items[:limit])


def _prepare_existing(existing: ResultsFile | None) -> set[str]:
    if existing is None:
        return set()
    repair_tail(existing)
    return {row.question_id for row in existing.rows}


def _answer_all(
    todo: list[EvalItem],
    answer_fn: AnswerFn,
    *,
    out_path: Path,
    model_id: str,
    counts: tuple[int, int],
    progress: Progress | None,
    should_stop: StopCheck | None,
) -> tuple[int, int, bool]:
    done, total = counts
    written = failed = 0
    if progress is not None:
        progress(done, total)
    with _open_append(out_path) as handle:
        for item in todo:
            if should_stop is not None and should_stop():
                return written, failed, True
            try:
                row = answer_row(item, answer_fn, model_id)
            except Cancelled:
                return written, failed, True
            _append(handle, row, out_path)
            written += 1
            failed += "error" in row
            if progress is not None:
                progress(done + written, total)
    return written, failed, False


def answer_row(item: EvalItem, answer_fn: AnswerFn, model_id: str) -> dict[str, Any]:
    """Ask the model about one item and build its results row (PULSE's shape plus extras)."""
    start = time.perf_counter()
    error = ""
    try:
        text, timings = answer_fn(item)
    except ImageError as exc:
        text, timings, error = "", {}, str(exc)
    row: dict[str, Any] = {
        "question_id": item.question_id,
        "prompt": item.question,
        "text": text.strip(),
        "answer_id": uuid.uuid4().hex,
        "model_id": model_id,
        "gold": item.gold,
        "image": item.image_ref,
        "timings": {**timings, "wall_ms": round((time.perf_counter() - start) * 1000.0, 1)},
    }
    if error:
        row["error"] = error
    return row


def _open_append(out_path: Path) -> IO[str]:
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        return out_path.open("a", encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"Cannot write the results file {out_path}.") from exc


def _append(handle: IO[str], row: dict[str, Any], out_path: Path) -> None:
    try:
        append_row(handle, row)
    except OSError as exc:
        raise StorageError(f"Cannot write to the results file {out_path}.") from exc


# --- the run's description, kept beside the results -------------------------


def meta_path(out_path: Path) -> Path:
    """Where the description of the run that wrote `out_path` is kept."""
    return out_path.with_name(out_path.name + META_SUFFIX)


def read_run_meta(out_path: Path) -> dict[str, Any] | None:
    """The run description beside `out_path`, or None when absent or unreadable."""
    try:
        data = json.loads(meta_path(out_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_run_meta(out_path: Path, meta: dict[str, Any]) -> Path:
    """Write (atomically) the run description: task, dataset, model provenance, sessions.

    A resumed run keeps the first description and appends its session to it.
    """
    target = meta_path(out_path)
    previous = read_run_meta(out_path)
    merged = dict(previous) if previous else dict(meta)
    sessions = list(previous.get("sessions", [])) if previous else []
    merged["sessions"] = sessions + list(meta.get("sessions", []))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise describe_os_error(exc, target, what="the run description") from exc
    text = json.dumps(merged, indent=2, ensure_ascii=False)
    write_text_atomically(text, target, what="the run description")
    return target
