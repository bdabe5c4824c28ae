"""Prove an import before anyone trusts it: preflight, then a short greedy conversion check.

The check asks the bundled sample ECG one model-card question through the
app's own runtime (worker process, the app's prompt path). Its text is shown
as a "conversion check", never as a reading. Outcomes:

* ok: text was written;
* empty: nothing but whitespace (a broken projector or template often does this);
* repeated: one token over and over (typical of damaged weights or a wrong norm);
* garbled: mostly not letters, or broken characters (random or damaged weights).

A warning does not fail the import: a tiny random test checkpoint is expected
to warn, and a real model that warns should be looked at before use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecgviewer.core.errors import Cancelled
from ecgviewer.core.inference.preflight import check_pair

CHECK_QUESTION = "What is the heart rate?"
CHECK_TOKENS = 24


def outcome(text: str, tokens: int) -> str:
    """ "ok", "empty", "repeated" or "garbled" for the check's answer (module docstring)."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    words = stripped.split()
    if tokens >= 8 and ((len(words) >= 4 and len(set(words)) == 1) or len(set(stripped)) == 1):
        return "repeated"
    visible = [c for c in stripped if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    if "\ufffd" in stripped or letters < 0.6 * len(visible):
        return "garbled"
    return "ok"


def conversion_check(
    text: Path, mmproj: Path, progress: Callable[[str, float], None],
    cancelled: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:  # fmt: skip
    """Preflight the pair (raises ModelError on a problem), then answer one question.

    Cancel is passed on to the runtime: the answer stops at its next token (an
    image read already under way finishes first).
    """
    from ecgviewer.core.inference.answering import answer_with_one_retry
    from ecgviewer.core.inference.runtime import ModelRuntime
    from ecgviewer.core.paths import app_paths, resources_dir
    from ecgviewer.core.settings import ModelSettings
    from ecgviewer.core.workspace import open_case

    progress("check", 0.0)
    check_pair(text, mmproj)
    runtime = ModelRuntime(app_paths().ensure())
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            if cancelled():
                runtime.cancel()
                return

    threading.Thread(target=watch, name="import-check-cancel", daemon=True).start()
    try:
        runtime.load(text, mmproj, ModelSettings(n_ctx=2048, max_tokens=CHECK_TOKENS))
        progress("check", 0.3)
        sample = open_case(resources_dir() / "samples" / "sample-ecg.png")
        answer, finished = answer_with_one_retry(runtime, sample.model_png(), CHECK_QUESTION)
    finally:
        done.set()
        runtime.close()
    if cancelled() or finished.stop_reason == "cancelled":
        raise Cancelled()
    progress("check", 1.0)
    tokens = int(finished.times.get("decode_tokens", 0))
    result = outcome(answer, tokens)
    return {"question": CHECK_QUESTION, "text": answer, "tokens": tokens, "outcome": result,
            "ok": result == "ok"}  # fmt: skip


# Perplexity grows by about 0.1 % (Q8_0), 1 % (Q5_K_M) and 3 % (Q4_K_M) over F16 for
# llama.cpp's published 7B-class measurements; ten percent is far beyond any of them,
# so a larger ratio means the quantization damaged the model (or the text is unlike it).
PERPLEXITY_RATIO_LIMIT = 1.10


def perplexities(
    f16: Path | None, quantized: Path, work: Path, threads: int, cancelled: Callable[[], bool]
) -> dict[str, Any]:
    """Perplexity of the F16 and the quantized text model on held-out cardiology text."""
    from ecgviewer.core.modelimport.calibrate import perplexity_in_child
    from ecgviewer.core.modelimport.child import run_in_child
    from ecgviewer.core.paths import resources_dir

    held_out = resources_dir() / "calibration" / "cardiology-heldout.txt"
    values: dict[str, Any] = {"text": held_out.name}
    for label, model in (("f16", f16), ("quantized", quantized)):
        if model is None:
            continue
        out = work / f"perplexity-{label}.json"
        job = {"model": str(model), "text": str(held_out), "out": str(out), "threads": threads}
        run_in_child(perplexity_in_child, job, what="measuring perplexity", cancelled=cancelled)
        values[label] = json.loads(out.read_text(encoding="utf-8"))["perplexity"]
    if "f16" in values:
        values["ratio"] = values["quantized"] / values["f16"]
        values["limit"] = PERPLEXITY_RATIO_LIMIT
        values["ok"] = values["ratio"] <= PERPLEXITY_RATIO_LIMIT
    return values
