"""One evaluation run in the background, reported on the GUI thread.

`EvaluationRun` hands the core's `run_evaluation` (the same steps as
`ecgviewer eval run`) to `run_task`, so it runs on a pool thread while its
signals arrive on the GUI thread. The run loads its own `ModelRuntime` (a second
worker process beside the window's) and closes it however the run ends.
Stopping is a flag (`RunControl`), polled between items, that also cancels the
answer in progress when the answer function can be cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from ecgviewer.core.evaluation.run_score import score_after_run
from ecgviewer.core.evaluation.runner import RunSummary
from ecgviewer.core.evaluation.session import EvalRunRequest, RunControl, run_evaluation
from ecgviewer.gui.tasks import run_task


@dataclass(frozen=True)
class EvaluationOutcome:
    """What a finished (complete or cancelled) run produced."""

    summary: RunSummary
    task: str
    score_text: str  # what `ecgviewer eval score` prints; "" when there is nothing to score
    score_problem: str  # why there is no score, when there is none
    warnings: tuple[str, ...]  # about the dataset (gold answers without a label...)


class EvaluationRun(QObject):
    """Runs one evaluation off the GUI thread; see the module docstring."""

    progressed = Signal(int, int)  # items done, items in the run
    finished = Signal(object)  # EvaluationOutcome (complete or cancelled)
    failed = Signal(object)  # BaseException that ended the run

    def __init__(self, request: EvalRunRequest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._request = request
        self._control = RunControl()

    @property
    def stop_requested(self) -> bool:
        """Any thread: whether `stop()` was called."""
        return self._control.stop_requested()

    def start(self) -> None:
        """GUI thread: start the run; its results arrive as `finished` or `failed`."""
        run_task(self, self._work, self._on_task_succeeded, self._on_task_failed)

    def stop(self) -> None:
        """GUI thread (any thread is safe): end the run at the next token or between items."""
        self._control.stop()

    def _work(self) -> EvaluationOutcome:  # runs on a pool thread
        warnings: list[str] = []
        summary = run_evaluation(
            self._request,
            progress=self.progressed.emit,  # queued to the GUI thread
            control=self._control,
            warn=warnings.append,
        )
        text, problem = _score(summary, self._request.task)
        return EvaluationOutcome(summary, self._request.task, text, problem, tuple(warnings))

    def _on_task_succeeded(self, outcome: EvaluationOutcome) -> None:
        self.finished.emit(outcome)

    def _on_task_failed(self, error: BaseException) -> None:
        self.failed.emit(error)


def _score(summary: RunSummary, task: str) -> tuple[str, str]:
    """Pool thread: the score as `eval score` prints it, or why there is none."""
    from ecgviewer.core.evaluation.text_output import format_score

    score = score_after_run(summary, task)
    return (format_score(score.report) if score.report else ""), score.problem


def progress_text(done: int, total: int, *, first_done: int, elapsed_s: float) -> str:
    """'n of N, about m min left', the time left estimated from this session's items."""
    answered = done - first_done
    if done >= total:
        return f"{done} of {total}"
    if answered <= 0:
        return f"{done} of {total}, estimating the time left"
    left_s = elapsed_s / answered * (total - done)
    return f"{done} of {total}, {_duration(left_s)} left"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60:02d} min"
