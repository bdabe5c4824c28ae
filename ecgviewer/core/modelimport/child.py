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

Target = Callable[[dict[str, Any], Any], None]


def run_in_child(
    target: Target, job: dict[str, Any], *, what: str,
    cancelled: Callable[[], bool], progress: Callable[[float], None] | None = None,
) -> None:  # fmt: skip
    """Run `target(job, fraction)` in a spawned process; `fraction` is a shared double."""
    context = multiprocessing.get_context("spawn")
    fraction = context.Value("d", 0.0)
    reason: Any = context.Array("c", 512)  # the child's last words: an error's type and message
    child = context.Process(target=_child_main, args=(target, job, fraction, reason),
                            name=f"ecgviewer-{what}", daemon=True)  # fmt: skip
    child.start()
    while child.is_alive():
        if cancelled():
            break
        if progress is not None:
            progress(float(fraction.value))
        time.sleep(0.1)
    if cancelled():  # also when Ctrl+C reached the child before this loop looked
        child.kill()
        child.join()
        raise Cancelled()
    child.join()
    if child.exitcode != 0:
        said = reason.value.decode("utf-8", "replace")
        raise ModelError(
            f"llama.cpp stopped while {what} ({said or f'exit code {child.exitcode}'}).",
            hint="Check the free memory and disk space, then import again.",
        )


def _child_main(target: Target, job: dict[str, Any], fraction: Any, reason: Any) -> None:
    """In the child: Ctrl+C is the parent's to handle; an error becomes one line, not a
    traceback on the user's terminal."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        target(job, fraction)
    except SystemExit:
        raise
    except BaseException as error:  # the process boundary: report, never a traceback
        reason.value = f"{type(error).__name__}: {error}".encode("utf-8", "replace")[:511]
        raise SystemExit(3) from None
