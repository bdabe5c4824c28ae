"""Evaluation answers from an inference server (`eval run --server URL --concurrency N`).

`ServerAnswers` is an `AnswerFn` (runner.py) that may be called from N worker
threads at once: every item is a first question in a conversation of its own,
sent through one `RemoteRuntime`, whose requests share only the thread-safe
HTTP client. `cancel()` (any thread) ends every answer in progress at its next
event.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecgviewer.core.conversation import Conversation
from ecgviewer.core.errors import Cancelled, InputError
from ecgviewer.core.evaluation.datasets import EvalItem
from ecgviewer.core.inference.answering import ask
from ecgviewer.core.inference.remote import RemoteModel, RemoteRuntime
from ecgviewer.core.inference.server_config import server_config
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import load_settings
from ecgviewer.core.workspace import open_case

if TYPE_CHECKING:
    from ecgviewer.core.evaluation.session import EvalRunRequest

MAX_CONCURRENCY = 64


class ServerAnswers:
    """Answers evaluation items on the server named by the request (see the module docstring).

    Images are sent as the local evaluation sends them: made square for the
    model, without the scan-straightening pipeline.
    """

    def __init__(self, request: EvalRunRequest) -> None:
        if not 1 <= request.concurrency <= MAX_CONCURRENCY:
            raise InputError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}.")
        paths = app_paths().ensure()
        settings = load_settings(paths)
        model = settings.model
        model.seed, model.max_tokens, model.temperature = request.seed, request.max_tokens, 0.0
        self._remote = RemoteRuntime(server_config(settings.server, request.server), paths, model)
        try:
            self.model: RemoteModel = self._remote.connect()
        except BaseException:
            self._remote.close()
            raise

    @property
    def model_id(self) -> str:
        """The name results rows carry: the served model file's stem, as a local run's."""
        return Path(self.model.served.file_name).stem or self.model.served.model_id

    def __call__(self, item: EvalItem) -> tuple[str, dict[str, Any]]:
        opened = open_case(item.image_path, preprocess=False)
        turn, finished = ask(self._remote, Conversation(), opened.model_png(), item.question)
        if turn.stop_reason == "cancelled":
            raise Cancelled()
        return turn.answer, dict(finished.times)

    def cancel(self) -> None:
        """Any thread: stop every answer in progress (each raises `Cancelled`)."""
        self._remote.cancel()

    def close(self) -> None:
        self._remote.close()

    def provenance(self) -> dict[str, Any]:
        """The run description's provenance: server, served model, hashes where known."""
        provenance = self.model.provenance
        return {
            "server": provenance.server_url, "served_model": provenance.served_model,
            "known_pair": provenance.known_pair, "ecg_model": provenance.is_ecg_model,
            "model": {"path": provenance.model.path, "sha256": provenance.model.sha256},
            "mmproj": {"path": provenance.mmproj.path, "sha256": provenance.mmproj.sha256},
        }  # fmt: skip


def ask_server(request: EvalRunRequest, what: str) -> Any:
    """One short connection for the run's checks: the served model's `model_id` or
    `provenance` (the run's own connection is made by `make_answer_fn`)."""
    answers = ServerAnswers(request)
    try:
        return answers.model_id if what == "model_id" else answers.provenance()
    finally:
        answers.close()
