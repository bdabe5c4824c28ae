"""The one place where the worker's step times become a `Timings` record.

The engine measures its steps in a `StepTimes` (inference worker process) and
sends them as a plain dict with the Prepared and Finished events. Everything
after that (the record of a turn, the PDF, `interpret --json`, an evaluation
row) uses `ecgviewer.core.case.Timings`; these functions are the only
conversion between the two shapes (the read time a Prepared step gives the
countdown is `encode_times.read_time_ms`). Pure functions, any thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ecgviewer.core.case import Timings


def _ms(step: Mapping[str, Any], key: str) -> float:
    value = step.get(key, 0.0)
    return float(value) if isinstance(value, int | float) else 0.0


def with_prepared(timings: Timings, step: Mapping[str, Any] | None) -> Timings:
    """`timings` with the image step: encode and prompt prefill (0 when the image
    was already prepared, `step` None, or a prefix-cache hit)."""
    step = step or {}
    return replace(
        timings,
        image_encode_ms=_ms(step, "image_encode_ms"),
        prompt_prefill_ms=_ms(step, "prompt_prefill_ms"),
    )


def with_answer(
    timings: Timings, step: Mapping[str, Any], *, first_token_ms: float | None, total_ms: float
) -> Timings:
    """`timings` completed by the answer step: the question's prefill is added to the
    prompt prefill, then decoding, the first token and the whole request."""
    return replace(
        timings,
        prompt_prefill_ms=(timings.prompt_prefill_ms or 0.0) + _ms(step, "question_prefill_ms"),
        decode_ms=_ms(step, "decode_ms"),
        decode_tokens=int(step.get("decode_tokens", 0)),
        first_token_ms=first_token_ms,
        total_ms=total_ms,
    )


def finished_times(timings: Timings, step: Mapping[str, Any]) -> dict[str, Any]:
    """What a runtime Finished event carries: `timings.to_json()` and the engine's extras
    (question and context token counts)."""
    return timings.to_json() | dict(step.get("extra", {}))
