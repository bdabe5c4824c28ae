"""`ModelRuntime`: the one owner of the model, used by the CLI and the GUI alike.

It checks a pair before loading (preflight, SHA-256, manifest, memory), loads
it in the worker process, and answers questions about an image, preparing the
image only when it changed. All methods run on the caller's one model thread;
`cancel()` may be called from any thread.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from ecgviewer.core.case import (
    DecodingSettings,
    ModelIdentity,
    Provenance,
    StopReason,
    Timings,
    Turn,
    now_iso,
)
from ecgviewer.core.errors import EngineCrashError, ModelError
from ecgviewer.core.inference import memory
from ecgviewer.core.inference.client import (
    Event,
    Failed,
    Finished,
    InferenceClient,
    Prepared,
    TextDelta,
)
from ecgviewer.core.inference.encode_times import EncodeTimes, read_time_ms, timing_key
from ecgviewer.core.inference.integrity import HashCache, find_known_pair, load_manifest
from ecgviewer.core.inference.prefix_cache import prefix_key
from ecgviewer.core.inference.preflight import PairFacts, check_pair
from ecgviewer.core.inference.prompts import PROMPTS_VERSION
from ecgviewer.core.inference.spec import LoadSpec, batch_tokens
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.settings import ModelSettings

log = logging.getLogger(__name__)

LoadProgress = Callable[[str, float], None]
"""(stage, fraction in [0, 1]) where stage is "checking", "hashing" or "loading"."""


@dataclass(frozen=True)
class LoadedModel:
    """A pair that passed every check and is loaded in the worker."""

    facts: PairFacts
    provenance: Provenance
    memory: memory.MemoryEstimate
    load_ms: float
    gpu_fallback: bool
    decoding: DecodingSettings
    encode_estimate_ms: float = 0.0  # last measured image read with these settings; 0 = unknown

    @property
    def display_name(self) -> str:
        known = self.provenance.known_pair
        return known or self.facts.text.name


def is_ecg_model_name(*names: str) -> bool:
    """Unknown pairs count as ECG models only when their name says so."""
    return any("ecg" in name.lower() for name in names)


class ModelRuntime:
    """Loads a checked pair and streams answers. See the module docstring for threads."""

    def __init__(self, paths: AppPaths, manifest: Path | None = None) -> None:
        self._paths = paths
        self._manifest_path = manifest
        self._hashes = HashCache(paths.hash_cache_file)
        self._client = InferenceClient(log_dir=str(paths.log_dir))
        self._loaded: LoadedModel | None = None
        self._spec: LoadSpec | None = None
        self._prepared_key = ""
        self._encode_times = EncodeTimes(paths.encode_times_file)
        self._timing_key = ""

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def worker_pid(self) -> int | None:
        return self._client.worker_pid

    # -- loading -----------------------------------------------------------
    def check(
        self, text: Path, mmproj: Path, settings: ModelSettings,
        progress: LoadProgress | None = None,
    ) -> tuple[PairFacts, Provenance, memory.MemoryEstimate]:  # fmt: skip
        """Preflight, hash and memory-check a pair without loading it."""
        report = progress or (lambda stage, fraction: None)
        report("checking", 0.0)
        facts = check_pair(text, mmproj)
        expected = memory.estimate(facts, settings)
        memory.check_fits(expected, memory.available_memory())
        total = facts.text.size_bytes + facts.mmproj.size_bytes
        share = facts.text.size_bytes / total

        def text_part(fraction: float) -> None:
            report("hashing", fraction * share)

        def mmproj_part(fraction: float) -> None:
            report("hashing", share + fraction * (1 - share))

        text_sha = self._hashes.sha256(facts.text.path, text_part)
        mmproj_sha = self._hashes.sha256(facts.mmproj.path, mmproj_part)
        return facts, self._provenance(facts, text_sha, mmproj_sha), expected

    def _provenance(self, facts: PairFacts, text_sha: str, mmproj_sha: str) -> Provenance:
        known = find_known_pair(text_sha, mmproj_sha, load_manifest(self._manifest_path))
        ecg = known.ecg_model if known else is_ecg_model_name(facts.text.name, facts.text.path.name)
        return Provenance(
            model=ModelIdentity(str(facts.text.path), text_sha, facts.text.architecture,
                                facts.text.quantization, facts.text.size_bytes),
            mmproj=ModelIdentity(str(facts.mmproj.path), mmproj_sha, "clip",
                                 facts.mmproj.quantization, facts.mmproj.size_bytes),
            known_pair=known.name if known else "",
            fallback_template=not facts.text.has_chat_template,
            is_ecg_model=ecg,
        )  # fmt: skip

    def load(self, text: Path, mmproj: Path, settings: ModelSettings,
             progress: LoadProgress | None = None) -> LoadedModel:  # fmt: skip
        """Check and load a pair; raises ModelError with a clear message on any problem."""
        facts, provenance, expected = self.check(text, mmproj, settings, progress)
        if progress is not None:
            progress("loading", 0.0)
        spec = LoadSpec(
            text_path=str(facts.text.path), mmproj_path=str(facts.mmproj.path),
            n_ctx=settings.n_ctx, n_threads=settings.threads(),
            n_gpu_layers=settings.n_gpu_layers, flash_attn=settings.flash_attn, seed=settings.seed,
            use_mmap=settings.use_mmap, repack=settings.repack_weights,
            n_batch=batch_tokens(facts.mmproj.image_tokens),
            cache_dir=str(self._paths.prefix_cache_dir),
            cache_limit_bytes=max(0, settings.prefix_cache_mb) * 1024 * 1024,
        )  # fmt: skip
        self.unload()
        info = self._client.load(spec)
        self._spec = spec
        provenance = replace(provenance, fallback_template=bool(info.get("fallback_template")))
        decoding = DecodingSettings(
            temperature=settings.temperature, seed=settings.seed, max_tokens=settings.max_tokens,
            n_ctx=settings.n_ctx, n_threads=spec.n_threads,
            n_gpu_layers=0 if info.get("gpu_fallback") else settings.n_gpu_layers,
            flash_attn=settings.flash_attn, repack_weights=settings.repack_weights,
        )  # fmt: skip
        self._timing_key = timing_key(provenance, decoding)
        self._loaded = LoadedModel(
            facts, provenance, expected, float(info.get("load_ms", 0.0)),
            bool(info.get("gpu_fallback")), decoding, self._encode_times.get(self._timing_key),
        )  # fmt: skip
        if progress is not None:
            progress("loading", 1.0)
        log.info("model loaded (known pair: %s)", bool(provenance.known_pair))
        return self._loaded

    def unload(self) -> None:
        """Stop the worker and forget the model."""
        self._client.close()
        self._loaded = None
        self._prepared_key = ""

    def close(self) -> None:
        self.unload()

    def cancel(self) -> None:
        """Stop the current request at its next token. Safe from any thread."""
        self._client.cancel()

    # -- answering ---------------------------------------------------------
    def prepare(self, png: bytes) -> Iterator[Event]:
        """Encode `png` and evaluate the prompt prefix unless it is already prepared."""
        key = hashlib.sha256(png).hexdigest()
        if key == self._prepared_key:
            return
        loaded = self._require_loaded()
        self._prepared_key = ""
        identity = loaded.provenance
        cache_key = prefix_key(identity.model.sha256, identity.mmproj.sha256, key)
        for event in self._guarded(self._client.prepare(png, cache_key)):
            if isinstance(event, Prepared):
                self._prepared_key = key
                self._remember_encode_time(event.times)
            yield event

    def _remember_encode_time(self, times: dict[str, object]) -> None:
        """Keep a real image read's time (not a cache hit) as the next countdown's estimate."""
        total = read_time_ms(times)
        if self._loaded is None or total <= 0:
            return
        self._loaded = replace(self._loaded, encode_estimate_ms=total)
        self._encode_times.record(self._timing_key, total)

    def interpret(self, png: bytes, question: str, *, history: Sequence[tuple[str, str]] = (),
                  max_tokens: int | None = None) -> Iterator[Event]:  # fmt: skip
        """Prepare the image if needed, then stream the answer to `question`.

        `history` holds the earlier (question, answer) pairs about this image;
        empty for a first question.

        Yields Prepared (only when the image had to be encoded), Started,
        TextDelta..., and ends with one Finished (its `times` is a
        `Timings.to_json()`) or one Failed.
        """
        loaded = self._require_loaded()
        start = time.perf_counter()
        times = Timings(model_load_ms=loaded.load_ms)
        for event in self.prepare(png):
            if isinstance(event, Failed):
                yield event
                return
            if isinstance(event, Prepared):
                times.image_encode_ms = event.times.get("image_encode_ms")
                times.prompt_prefill_ms = event.times.get("prompt_prefill_ms")
            yield event
        if times.image_encode_ms is None:
            times.image_encode_ms, times.prompt_prefill_ms = 0.0, 0.0
        yield from self._ask(question, history, max_tokens, times, start)

    def _ask(self, question: str, history: Sequence[tuple[str, str]], max_tokens: int | None,
             times: Timings, start: float) -> Iterator[Event]:  # fmt: skip
        decoding = self._require_loaded().decoding
        events = self._client.ask(
            question, history=history, max_tokens=max_tokens or decoding.max_tokens,
            temperature=decoding.temperature, seed=decoding.seed,
        )  # fmt: skip
        for event in self._guarded(events):
            if isinstance(event, TextDelta) and times.first_token_ms is None:
                times.first_token_ms = (time.perf_counter() - start) * 1000.0
            if isinstance(event, Finished):
                times.prompt_prefill_ms = (times.prompt_prefill_ms or 0.0) + float(
                    event.times.get("question_prefill_ms", 0.0)
                )
                times.decode_ms = event.times.get("decode_ms")
                times.decode_tokens = int(event.times.get("decode_tokens", 0))
                times.total_ms = (time.perf_counter() - start) * 1000.0
                summary = times.to_json() | dict(event.times.get("extra", {}))
                yield Finished(event.request_id, event.stop_reason, summary)
                continue
            yield event

    def _guarded(self, events: Iterator[Event]) -> Iterator[Event]:
        """Turn a dead worker into a Failed event and forget the loaded model."""
        try:
            for event in events:
                if isinstance(event, Failed) and isinstance(event.error, EngineCrashError):
                    self._forget()
                yield event
        except EngineCrashError as error:
            self._forget()
            yield Failed(0, error)

    def _forget(self) -> None:
        self._client.close()
        self._loaded = None
        self._prepared_key = ""

    def _require_loaded(self) -> LoadedModel:
        if self._loaded is None:
            raise ModelError("No model is loaded.", hint="Choose a model in Model settings.")
        return self._loaded

    def make_turn(self, question: str, answer: str, finished: Finished | None,
                  preset_key: str = "") -> Turn:  # fmt: skip
        """The record of one answer, with everything that produced it."""
        loaded = self._loaded
        timings = Timings.from_json(finished.times) if finished else Timings()
        stop: StopReason = "failed"
        if finished is not None and finished.stop_reason in ("eos", "length", "cancelled"):
            stop = cast(StopReason, finished.stop_reason)
        return Turn(
            question=question, answer=answer, stop_reason=stop,
            prompt_preset=preset_key, prompt_version=PROMPTS_VERSION, started_at=now_iso(),
            timings=timings,
            provenance=loaded.provenance if loaded else None,
            decoding=loaded.decoding if loaded else None,
        )  # fmt: skip
