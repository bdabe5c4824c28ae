"""Test-only replacements for the inference worker's entry point.

`InferenceClient._worker_target` names the function the spawned worker runs.
Tests point it at `hooked(NAME)`, a picklable partial of `run_hooked`, which
changes one step of the real engine inside the worker (slows it, or makes it
fail the way a GPU load fails) and then runs the real worker. Nothing here
exists in the application.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

SLOW_SECONDS = 4.0


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
    "gpu_load_fails": _gpu_load(_raise_gpu_error),
    "gpu_load_crashes": _gpu_load(_segfault),
}
