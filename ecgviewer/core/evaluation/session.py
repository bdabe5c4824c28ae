"""One evaluation session end to end: run a set, score the results, write the report.

What `ecgviewer eval run / score / report` do, minus the printing, so the CLI
and the window's Evaluate dialog take exactly the same steps. Everything here
runs on the caller's thread (the CLI's main thread, or a GUI worker thread);
only `RunControl.stop()` and `RunControl.stop_requested()` are meant to be
called from another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecgviewer import __version__
from ecgviewer.core.case import now_iso
from ecgviewer.core.errors import InputError

if TYPE_CHECKING:  # numpy, reportlab and the model runtime load only when used
    from ecgviewer.core.evaluation.datasets import EvalItem
    from ecgviewer.core.evaluation.results_io import ResultRow
    from ecgviewer.core.evaluation.runner import AnswerFn, Progress, RunSummary
    from ecgviewer.core.evaluation.scores import ScoreReport

DEFAULT_SEED = 42
DEFAULT_MAX_TOKENS = 1024  # ECGBench: up to 1,024 new tokens
Warn = Callable[[str], None]


@dataclass(frozen=True)
class EvalRunRequest:
    """What `eval run` is asked to do: built by the CLI from its arguments, by the window
    from its form."""

    dataset: Path
    model: Path
    mmproj: Path
    task: str
    out: Path
    limit: int | None = None
    resume: bool = False
    image_root: Path | None = None
    seed: int = DEFAULT_SEED
    max_tokens: int = DEFAULT_MAX_TOKENS
    server: str = ""  # an inference server's URL: answers come from it, not model/mmproj
    concurrency: int = 1  # requests sent at a time (a server only)
    fold: int | None = None  # PTB-XL folder: the strat_fold to take (None: 10, the test fold)


class RunControl:
    """Stops a run from another thread: between items, and inside the answer in progress.

    The run thread attaches the answer function once the model is loaded; `stop()`
    sets a flag that `run_eval` polls between items and calls the answer
    function's `cancel()`, when it has one, so a long answer ends at its next token.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._answer_fn: object | None = None

    def stop(self) -> None:
        """Any thread: ask the run to end as soon as it can."""
        self._stop.set()
        with self._lock:
            cancel = getattr(self._answer_fn, "cancel", None)
            if callable(cancel):
                cancel()

    def stop_requested(self) -> bool:
        """Any thread: whether `stop()` was called (the runner's `should_stop`)."""
        return self._stop.is_set()

    def attach(self, answer_fn: object | None) -> None:
        """Run thread: the answer function in use, or None once it is being closed."""
        with self._lock:
            self._answer_fn = answer_fn


def run_evaluation(
    request: EvalRunRequest,
    *,
    progress: Progress | None = None,
    control: RunControl | None = None,
    warn: Warn | None = None,
) -> RunSummary:
    """`eval run` without the printing: check everything cheap first, then load the model.

    The dataset, its gold answers and the results file are checked before the
    slow model load; the model's worker process is closed however the run ends.
    """
    from ecgviewer.core.evaluation import model_answers, ptbxl
    from ecgviewer.core.evaluation.runner import write_run_meta

    items, model_id = _checked_inputs(request, warn)
    answer_fn = model_answers.make_answer_fn(request, control.stop_requested if control else None)
    answer_fn = ptbxl.with_pages(items, answer_fn)  # recordings are drawn just before answering
    try:
        if control is not None:
            control.attach(answer_fn)
        provenance = model_answers.describe_model(request)
        meta = run_meta(request, model_id, provenance) | ptbxl.run_meta_extra(request, answer_fn)
        write_run_meta(request.out, meta)
        return _run_items(items, answer_fn, request, model_id, progress=progress, control=control)
    finally:
        if control is not None:
            control.attach(None)
        close_answer_fn(answer_fn)


def _checked_inputs(request: EvalRunRequest, warn: Warn | None) -> tuple[list[EvalItem], str]:
    from ecgviewer.core.evaluation.datasets import load_dataset
    from ecgviewer.core.evaluation.runner import check_output
    from ecgviewer.core.evaluation.scoring import check_gold

    if request.limit is not None and request.limit < 1:
        raise InputError("--limit must be at least 1.")
    items = load_dataset(request.dataset, image_root=request.image_root, exclude=(request.out,),
                         fold=request.fold, task=request.task, note=warn)  # fmt: skip
    for warning in check_gold(items, request.task):
        if warn is not None:
            warn(warning)
    from ecgviewer.core.evaluation.model_answers import run_model_id

    model_id = run_model_id(request)
    check_output(request.out, resume=request.resume, model_id=model_id)
    return items, model_id


def _run_items(
    items: list[EvalItem],
    answer_fn: AnswerFn,
    request: EvalRunRequest,
    model_id: str,
    *,
    progress: Progress | None,
    control: RunControl | None,
) -> RunSummary:
    from ecgviewer.core.evaluation.runner import run_eval

    return run_eval(
        items,
        answer_fn,
        request.out,
        model_id=model_id,
        resume=request.resume,
        limit=request.limit,
        progress=progress,
        should_stop=control.stop_requested if control is not None else None,
        concurrency=request.concurrency if request.server else 1,
    )


def run_meta(request: EvalRunRequest, model_id: str, provenance: dict[str, Any]) -> dict[str, Any]:
    """The run description: task, dataset, model provenance, decoding, this session."""
    return {
        "schema": 1,
        "task": request.task,
        "dataset": str(request.dataset),
        "model_id": model_id,
        "provenance": provenance,
        "decoding": {"temperature": 0.0, "seed": request.seed, "max_tokens": request.max_tokens},
        "ecgviewer_version": __version__,
        "sessions": [{"started_at": now_iso(), "resume": request.resume, "limit": request.limit}],
    }


def close_answer_fn(answer_fn: object) -> None:
    """Close the answer function's model worker, when it has one."""
    close = getattr(answer_fn, "close", None)
    if callable(close):
        close()


# --- score and report ---------------------------------------------------------------


def score_file(results: Path, task: str, dataset: Path | None = None) -> ScoreReport:
    """Score a results file; gold answers missing from rows come from `dataset`."""
    from ecgviewer.core.evaluation.scoring import score_results

    rows, notes = read_rows(results, dataset)
    report = score_results(rows, task)
    return replace(report, notes=report.notes + tuple(notes))


def read_rows(results: Path, dataset: Path | None = None) -> tuple[list[ResultRow], list[str]]:
    """The rows of a results file (gold filled in from `dataset`) and notes about the file."""
    from ecgviewer.core.evaluation.datasets import load_dataset
    from ecgviewer.core.evaluation.results_io import read_results
    from ecgviewer.core.evaluation.scoring import attach_gold

    read = read_results(results)
    rows = list(read.rows)
    if dataset is not None:
        rows = attach_gold(rows, load_dataset(dataset, check_images=False))
    notes = []
    if read.truncated_tail:
        notes.append(
            f"{results.name}: the incomplete last line (an interrupted or unfinished run) "
            "was skipped."
        )
    return rows, notes


def write_report(
    results: Path,
    task: str,
    out: Path,
    *,
    page_size: str = "auto",
    dataset: Path | None = None,
) -> Path:
    """Score `results` and write its PDF report to `out`, with the recorded provenance."""
    from ecgviewer.core.evaluation.report import write_eval_report
    from ecgviewer.core.evaluation.runner import read_run_meta

    report = score_file(results, task, dataset)
    provenance = read_run_meta(results) or _fallback_provenance(results, dataset)
    return write_eval_report(
        report, out, results_path=results, provenance=provenance, page_size=page_size
    )


def _fallback_provenance(results: Path, dataset: Path | None) -> dict[str, Any]:
    rows, _ = read_rows(results, dataset)
    return {
        "model_id": ", ".join(sorted({row.model_id for row in rows if row.model_id})) or "unknown",
        "note": "no run description found beside the results file",
    }
