"""Test-only replacements for the inference worker's entry point.

`InferenceClient._worker_target` names the function the spawned worker runs.
Tests point it at `hooked(NAME)`, a picklable partial of `run_hooked`, which
changes one step of the real engine inside the worker (slows it, or makes it
fail the way a GPU load fails) and then runs the real worker. Nothing here
exists in the application.
"""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

SLOW_SECONDS = 4.0
SLOW_ENCODER_SECONDS = 6.0
READ_LOG_ENV = "ECGVIEWER_TEST_READ_LOG"
"""A file the hooked worker appends "start KEY" / "done KEY" to around each image read
(KEY: the image's SHA-256, as read_ahead.image_key)."""


def hooked(name: str) -> Callable[..., None]:
    """The worker entry point with hook `name` applied (picklable for "spawn")."""
    return functools.partial(run_hooked, name)


def install(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make every worker started from now on in this test run with hook `name`."""
    from ecgviewer.core.inference.client import InferenceClient

    monkeypatch.setattr(InferenceClient, "_worker_target", staticmethod(lambda: hooked(name)))


def run_hooked(name: str, *args: Any) -> None:
    from ecgviewer.core.inference.worker import run_worker

    HOOKS[name]()
    run_worker(*args)


def _slow_image_read() -> None:
    from ecgviewer.core.inference.crash import Phase
    from ecgviewer.core.inference.engine import Engine

    original = Engine._eval_image

    def slow(self: Engine, *args: Any) -> None:
        self._mark(Phase.READING_IMAGE)
        time.sleep(SLOW_SECONDS)
        original(self, *args)

    Engine._eval_image = slow  # type: ignore[method-assign]


def _slow_question_prefill() -> None:
    from ecgviewer.core.inference.engine import Engine

    original = Engine._eval_cancellable

    def slow(self: Engine, tokens: list[int]) -> None:
        time.sleep(SLOW_SECONDS)
        original(self, tokens)

    Engine._eval_cancellable = slow  # type: ignore[method-assign]


def _slow_logged_encoder() -> None:
    """The vision encoder itself is slow (the sleep counts as encode time, as with
    MedGemma), and every image read is logged with its image's hash."""
    import llama_cpp.mtmd_cpp as mtmd

    from ecgviewer.core.inference.engine import Engine

    encode = mtmd.mtmd_encode_chunk
    original = Engine._encode_and_prefill

    def slow_encode(*args: Any) -> int:
        time.sleep(SLOW_ENCODER_SECONDS)  # one blocking call, like llama.cpp's encoder
        return int(encode(*args))

    def logged(self: Engine, png: bytes) -> Any:
        key = hashlib.sha256(png).hexdigest()
        _log_read(f"start {key}")
        times = original(self, png)
        _log_read(f"done {key}")
        return times

    mtmd.mtmd_encode_chunk = slow_encode
    Engine._encode_and_prefill = logged  # type: ignore[method-assign]


def _log_read(line: str) -> None:
    with open(os.environ[READ_LOG_ENV], "a", encoding="utf-8") as log:
        log.write(line + "\n")


def read_log(path: str | os.PathLike[str]) -> list[str]:
    """The lines the hooked workers wrote so far (none when nothing was read)."""
    try:
        with open(path, encoding="utf-8") as log:
            return log.read().splitlines()
    except FileNotFoundError:
        return []


def _gpu_load(action: Callable[[], Any]) -> Callable[[], None]:
    def install_hook() -> None:
        from ecgviewer.core.inference.engine import Engine

        original = Engine._new_llama

        def build(self: Engine, n_gpu_layers: int) -> Any:
            if n_gpu_layers:
                action()
            return original(self, n_gpu_layers)

        Engine._new_llama = build  # type: ignore[method-assign]

    return install_hook


def _raise_gpu_error() -> None:
    raise ValueError("Failed to load model from file (test hook: no GPU)")


def _segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


HOOKS: dict[str, Callable[[], None]] = {
    "none": lambda: None,
    "slow_image_read": _slow_image_read,
    "slow_question_prefill": _slow_question_prefill,
    "slow_logged_encoder": _slow_logged_encoder,
    "gpu_load_fails": _gpu_load(_raise_gpu_error),
    "gpu_load_crashes": _gpu_load(_segfault),
}
