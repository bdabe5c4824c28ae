"""Answering N evaluation items at a time, for an inference server (`eval run --concurrency N`).

Worker threads call the answer function (the server backend allows several
requests at once); the run's own thread keeps everything else: it submits at
most N items, writes each row in the set's order as soon as it and the rows
before it are done (so `--resume` and the progress bar work as for a
sequential run), and polls `should_stop` between rows. A `Cancelled` answer
stops new submissions; the answers already running end at their next token
(the caller's `RunControl` cancels them) and those that finished are kept.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ecgviewer.core.errors import Cancelled
from ecgviewer.core.evaluation.datasets import EvalItem
from ecgviewer.core.evaluation.runner import (
    AnswerFn,
    Progress,
    StopCheck,
    _append,
    _open_append,
    answer_row,
)


def answer_concurrently(
    concurrency: int,
    todo: list[EvalItem],
    answer_fn: AnswerFn,
    *,
    out_path: Path,
    model_id: str,
    counts: tuple[int, int],
    progress: Progress | None,
    should_stop: StopCheck | None,
) -> tuple[int, int, bool]:
    """(rows written, rows with an error, cancelled) — as runner._answer_all, N at a time."""
    done, total = counts
    written = failed = 0
    if progress is not None:
        progress(done, total)
    waiting: deque[Future[dict[str, Any]]] = deque()
    pending = iter(todo)
    stopped = False
    with (
        _open_append(out_path) as handle,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval-answer") as pool,
    ):
        while True:
            stopped = stopped or (should_stop is not None and should_stop())
            while not stopped and len(waiting) < concurrency:
                item = next(pending, None)
                if item is None:
                    break
                waiting.append(pool.submit(answer_row, item, answer_fn, model_id))
            if not waiting:
                return written, failed, stopped
            try:
                row = waiting.popleft().result()
            except Cancelled:
                stopped = True
                continue
            except BaseException:
                _give_up(waiting, answer_fn)
                raise
            _append(handle, row, out_path)
            written += 1
            failed += "error" in row
            if progress is not None:
                progress(done + written, total)


def _give_up(waiting: deque[Future[dict[str, Any]]], answer_fn: AnswerFn) -> None:
    """An answer failed: the run ends, so the others are stopped, not awaited in full."""
    for future in waiting:
        future.cancel()
    cancel = getattr(answer_fn, "cancel", None)
    if callable(cancel):
        cancel()
