"""The one seam between `ecgviewer eval run` and the model runtime.

`make_answer_fn(request)` must return an `AnswerFn` (see `runner.AnswerFn`):
`answer_fn(item) -> (text, timings)` answers `item.question` about the image
at `item.image_path` with greedy decoding (temperature 0, seed `request.seed`, at
most `request.max_tokens` new tokens), the image placed before the question, and
returns the raw text and a JSON-ready dict of timings in milliseconds (for
example `Timings.to_json()`). It raises `ImageError` for an unusable image,
`Cancelled` when stopped, `ModelError` when the model cannot be loaded.

`request` is the run's `session.EvalRunRequest` (`model`, `mmproj`, `seed`, `max_tokens`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecgviewer.core.conversation import Conversation
from ecgviewer.core.errors import Cancelled, InputError
from ecgviewer.core.evaluation.datasets import EvalItem
from ecgviewer.core.evaluation.runner import AnswerFn
from ecgviewer.core.inference.answering import ask
from ecgviewer.core.inference.integrity import HashCache
from ecgviewer.core.inference.runtime import ModelRuntime
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import load_settings
from ecgviewer.core.workspace import open_case

if TYPE_CHECKING:
    from ecgviewer.core.evaluation.session import EvalRunRequest


def make_answer_fn(
    request: EvalRunRequest, should_stop: Callable[[], bool] | None = None
) -> AnswerFn:
    """Load the model pair named in `request` and return the function that answers one item.

    `should_stop` is polled while the files are checked (hashing several GB takes a
    while the first time); it raises `Cancelled` when it turns true. With
    `request.server` the answers come from that inference server instead.
    """
    if request.server:
        from ecgviewer.core.evaluation.server_answers import ServerAnswers

        return ServerAnswers(request)
    return RuntimeAnswers(Path(request.model), Path(request.mmproj), seed=request.seed,
                          max_tokens=request.max_tokens, should_stop=should_stop)  # fmt: skip


class RuntimeAnswers:
    """Answers evaluation items with the app's own runtime (worker process, greedy decoding).

    Images are sent as given (only made square for the model, exactly as the app
    does), without the scan-straightening pipeline: benchmark images are clean
    renderings, and the protocol uses the question and image as given.
    """

    def __init__(self, model: Path, mmproj: Path, *, seed: int, max_tokens: int,
                 should_stop: Callable[[], bool] | None = None) -> None:  # fmt: skip
        paths = app_paths().ensure()
        settings = load_settings(paths).model
        settings.seed, settings.max_tokens, settings.temperature = seed, max_tokens, 0.0
        settings.n_ctx = max(settings.n_ctx, max_tokens + 1024)
        self._runtime = ModelRuntime(paths)

        def progress(_stage: str, _fraction: float) -> None:
            if should_stop is not None and should_stop():
                raise Cancelled()

        self._runtime.load(model, mmproj, settings, progress)

    def __call__(self, item: EvalItem) -> tuple[str, dict[str, Any]]:
        opened = open_case(item.image_path, preprocess=False)
        # each item is a first question in a conversation of its own
        turn, finished = ask(self._runtime, Conversation(), opened.model_png(), item.question)
        if turn.stop_reason == "cancelled":
            raise Cancelled()
        return turn.answer, dict(finished.times)

    def cancel(self) -> None:
        """Stop the answer in progress at its next token (it raises `Cancelled`). Any thread."""
        self._runtime.cancel()

    def close(self) -> None:
        self._runtime.close()


def run_model_id(request: EvalRunRequest) -> str:
    """The model name results rows carry (a server is asked what it serves)."""
    if not request.server:
        return Path(request.model).stem
    from ecgviewer.core.evaluation.server_answers import ask_server

    return str(ask_server(request, "model_id"))


def describe_model(request: EvalRunRequest) -> dict[str, Any]:
    """Provenance of the model pair for the run description: names, sizes, SHA-256
    (a server's: its URL, the served model and the pair's hashes where known)."""
    if request.server:
        from ecgviewer.core.evaluation.server_answers import ask_server

        return dict(ask_server(request, "provenance"))
    cache = HashCache(app_paths().hash_cache_file)
    return {
        "model": _describe_file(Path(request.model), cache),
        "mmproj": _describe_file(Path(request.mmproj), cache),
    }


def _describe_file(path: Path, cache: HashCache) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        digest = cache.sha256(path)
    except OSError as exc:
        raise InputError(f"Cannot read the model file {path}.") from exc
    return {"path": str(path), "name": path.name, "size_bytes": size, "sha256": digest}
