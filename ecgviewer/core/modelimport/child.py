"""Run one llama.cpp job of the importer in a child process: killable, crash-isolated.

Cancel kills the child at once (llama.cpp's quantizer and evaluator have no
stop flag), and a crash inside llama.cpp ends only the child. Progress comes
back through a shared double.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from typing import Any

from ecgviewer.core.errors import Cancelled, ModelError


def run_in_child(
    target: Callable[[dict[str, Any], Any], None], job: dict[str, Any], *, what: str,
    cancelled: Callable[[], bool], progress: Callable[[float], None] | None = None,
) -> None:  # fmt: skip
    """Run `target(job, fraction)` in a spawned process; `fraction` is a shared double."""
    context = multiprocessing.get_context("spawn")
    fraction = context.Value("d", 0.0)
    child = context.Process(target=target, args=(job, fraction), name=f"ecgviewer-{what}",
                            daemon=True)  # fmt: skip
    child.start()
    while child.is_alive():
        if cancelled():
            child.kill()
            child.join()
            raise Cancelled()
        if progress is not None:
            progress(float(fraction.value))
        time.sleep(0.1)
    child.join()
    if child.exitcode != 0:
        raise ModelError(
            f"llama.cpp stopped while {what} (exit code {child.exitcode}).",
            hint="Check the free memory and disk space; the log file has details.",
        )
