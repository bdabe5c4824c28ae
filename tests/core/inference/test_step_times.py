"""The worker's step times become one `Timings` record, in one place."""

from __future__ import annotations

from dataclasses import asdict

from ecgviewer.core.case import Timings
from ecgviewer.core.inference.engine import StepTimes
from ecgviewer.core.inference.step_times import (
    finished_times,
    with_answer,
    with_prepared,
)


def test_the_engine_steps_make_one_record() -> None:
    prepared = asdict(StepTimes(image_encode_ms=5000.0, prompt_prefill_ms=800.0))
    answer = asdict(StepTimes(question_prefill_ms=40.0, decode_ms=9000.0, decode_tokens=181))
    answer["extra"] = {"question_tokens": 12, "context_tokens": 500}
    timings = with_prepared(Timings(model_load_ms=1200.0), prepared)
    timings = with_answer(timings, answer, first_token_ms=6000.0, total_ms=15000.0)
    assert timings == Timings(1200.0, 5000.0, 840.0, 6000.0, 9000.0, 181, 15000.0)
    assert timings.tokens_per_second == 20.0
    sent = finished_times(timings, answer)
    assert Timings.from_json(sent) == timings  # what a Finished carries reads back whole
    assert sent["question_tokens"] == 12 and sent["tokens_per_second"] == 20.0


def test_an_image_already_prepared_costs_nothing() -> None:
    timings = with_prepared(Timings(), None)
    assert timings.image_encode_ms == 0.0 and timings.prompt_prefill_ms == 0.0
