"""`ModelRuntime`: the one owner of the model, used by the CLI and the GUI alike.

It loads a pair (after `pair_check.check_model_pair`: preflight, SHA-256,
manifest, memory) in the worker process, and answers questions about an image,
preparing the image only when it changed. Only the one model thread talks to
it: the GUI's model owner thread (gui/model_owner.py), or the CLI's main
thread. The exceptions, safe from any thread, are `cancel()`, `phase` and
`machine`; `on_engine_exit` is called on a watcher thread (it should only
notify the model thread, which then calls `recover()`). Checking a pair
without loading it and turning an answer into a record (`conversation.
answer_record`) are plain functions that need no runtime.

When the worker dies, the runtime says what it was doing and how it died,
restarts it once in the safest configuration (crash.py) and remembers that
configuration for the pair on this machine; a second crash in a row ends the
retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ecgviewer.core.case import DecodingSettings, Timings
from ecgviewer.core.errors import EngineCrashError, ModelError
from ecgviewer.core.inference.client import (
    AbandonCheck,
    Abandoned,
    Event,
    Failed,
    Finished,
    InferenceClient,
    Prepared,
    TextDelta,
)
from ecgviewer.core.inference.crash import (
    CrashGuard,
    CrashReport,
    Phase,
    SafeConfigs,
    describe_changes,
    safest,
)
from ecgviewer.core.inference.encode_times import EncodeTimes, read_time_ms, timing_key
from ecgviewer.core.inference.integrity import HashCache
from ecgviewer.core.inference.loaded import CheckedPair, LoadedModel, Restarted, RuntimeEvent
from ecgviewer.core.inference.machine import MachineFacts, repack_refusal
from ecgviewer.core.inference.pair_check import LoadProgress, check_model_pair
from ecgviewer.core.inference.prefix_cache import prefix_key
from ecgviewer.core.inference.read_ahead import PROCESS_START_MS, ReadyImages, image_key
from ecgviewer.core.inference.spec import LoadSpec, batch_tokens
from ecgviewer.core.inference.step_times import finished_times, with_answer, with_prepared
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.settings import ModelSettings

log = logging.getLogger(__name__)

EngineExitListener = Callable[[CrashReport], None]
"""Called on a watcher thread as soon as the worker dies unasked."""


class ModelRuntime:
    """Loads a checked pair and streams answers. See the module docstring for threads."""

    def __init__(
        self, paths: AppPaths, manifest: Path | None = None,
        on_engine_exit: EngineExitListener | None = None,
    ) -> None:  # fmt: skip
        self._paths = paths
        self._manifest_path = manifest
        self._hashes = HashCache(paths.hash_cache_file)
        self._client = InferenceClient(log_dir=str(paths.log_dir), on_exit=self._on_worker_exit)
        self._on_engine_exit = on_engine_exit
        self._loaded: LoadedModel | None = None
        self._spec: LoadSpec | None = None
        self._checked: CheckedPair | None = None
        self._notes: tuple[str, ...] = ()
        self._pair_key = ""
        self._prepared_key = ""
        self._encode_times = EncodeTimes(paths.encode_times_file)
        self._timing_key = ""
        self._machine: MachineFacts | None = None
        self.safe_configs = SafeConfigs(paths.safe_configs_file)
        self._guard = CrashGuard()
        self._handled_generation = 0  # the last worker whose death was dealt with
        self._unhandled_exit: tuple[int, CrashReport] | None = None
        self.ready = ReadyImages()  # images answered at once; model thread
        self._restart_ms = 0.0  # the last restart after an abandoned read

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def worker_pid(self) -> int | None:
        return self._client.worker_pid

    @property
    def phase(self) -> Phase:
        """What the worker is doing now; safe to read from any thread."""
        return self._client.phase

    # -- loading -----------------------------------------------------------
    @property
    def machine(self) -> MachineFacts | None:
        """What llama.cpp reported about this computer, once known (after `probe()`). Any thread."""
        return self._machine

    def probe(self) -> MachineFacts:
        """Model thread: ask llama.cpp (in the worker, which this starts) what this CPU offers."""
        if self._machine is None:
            self._machine = MachineFacts(**self._client.probe())
        return self._machine

    def load(self, text: Path, mmproj: Path, settings: ModelSettings,
             progress: LoadProgress | None = None) -> LoadedModel:  # fmt: skip
        """Check and load a pair; raises ModelError with a clear message on any problem.

        A crash while loading is handled like any other: one restart in the
        safest configuration, then a clear error.
        """
        facts, provenance, expected = check_model_pair(
            text, mmproj, settings, self._paths, hashes=self._hashes,
            manifest=self._manifest_path, progress=progress,
        )  # fmt: skip
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
        self._guard = CrashGuard()  # the user asked: a fresh count
        machine = self.probe()
        self._pair_key = SafeConfigs.key(
            provenance.model.sha256, provenance.mmproj.sha256, machine.key
        )
        self._checked = CheckedPair(
            facts, provenance, expected, settings.temperature, settings.max_tokens
        )
        notes = self._machine_notes(spec, machine)
        if notes:  # the engine refuses it too; the spec says what will really run
            spec = replace(spec, repack=False)
        self._unhandled_exit = None
        remembered = self.safe_configs.get(self._pair_key)
        if remembered is not None and safest(spec) != spec:
            changes = describe_changes(spec, safest(spec))
            spec = safest(spec)
            notes.append(
                f"Loaded {changes}: this model "
                "crashed the inference engine on this computer before. To try the chosen "
                "settings again, use Forget crash settings in Model settings."
            )
        self._notes = tuple(notes)
        self.ready, self._restart_ms = ReadyImages(on_disk=spec.cache_limit_bytes > 0), 0.0
        try:
            loaded = self._start(spec, self._notes)
        except EngineCrashError as error:
            loaded = self._load_after_crash(error, spec, notes)
        if progress is not None:
            progress("loading", 1.0)
        log.info("model loaded (known pair: %s)", bool(provenance.known_pair))
        return loaded

    @staticmethod
    def _machine_notes(spec: LoadSpec, machine: MachineFacts) -> list[str]:
        refusal = repack_refusal(machine)
        if spec.repack and refusal:
            return [f"Weight repacking was not applied. {refusal}."]
        return []

    def _load_after_crash(
        self, error: EngineCrashError, spec: LoadSpec, notes: list[str]
    ) -> LoadedModel:
        """The worker died while loading: once more in the safest configuration, or give up."""
        crash = self._crash_of(error)
        self._handled_generation = self._client.generation
        if not self._guard.record(crash):
            raise self._final_error(crash) from error
        safe = safest(spec)
        note = self._restart_note(crash, spec, safe)
        try:
            return self._start(safe, (*notes, note))
        except EngineCrashError as again:
            crash = self._crash_of(again)
            self._handled_generation = self._client.generation
            self._guard.record(crash)
            raise self._final_error(crash) from again

    def _start(self, spec: LoadSpec, notes: tuple[str, ...]) -> LoadedModel:
        """Load `spec` in the worker and record what really ran (the guard may refuse settings)."""
        checked = self._checked
        assert checked is not None
        self._loaded, self._prepared_key = None, ""
        info = self._client.load(spec)
        self._spec = spec
        machine = MachineFacts(**info["machine"]) if info.get("machine") else MachineFacts()
        self._machine = machine
        provenance = replace(
            checked.provenance, fallback_template=bool(info.get("fallback_template"))
        )
        gpu_fallback = bool(info.get("gpu_fallback"))
        decoding = DecodingSettings(
            temperature=checked.temperature, seed=spec.seed,
            max_tokens=checked.max_tokens, n_ctx=spec.n_ctx, n_threads=spec.n_threads,
            n_gpu_layers=0 if gpu_fallback else spec.n_gpu_layers,
            flash_attn=spec.flash_attn, repack_weights=bool(info.get("repack_applied")),
            machine=machine.summary(),  # threads are a field of their own
            buffer_types=", ".join(info.get("buffer_types", [])),
        )  # fmt: skip
        gpu_note = "The model could not be loaded on the GPU; it runs on the CPU."
        if gpu_fallback and gpu_note not in notes:  # a restart keeps the notes it had
            notes = (*notes, gpu_note)
        self._timing_key = timing_key(provenance, decoding)
        self._loaded = LoadedModel(
            checked.facts, provenance, checked.expected, float(info.get("load_ms", 0.0)),
            gpu_fallback, decoding, self._encode_times.get(self._timing_key), machine, notes,
        )  # fmt: skip
        return self._loaded

    def unload(self) -> None:
        """Stop the worker and forget the model; a death just before is not restarted."""
        self._client.close()
        self._loaded = None
        self._prepared_key = ""
        self._spec = None
        self.ready = ReadyImages()
        self._unhandled_exit = None
        self._handled_generation = self._client.generation

    def close(self) -> None:
        self.unload()

    def cancel(self) -> None:
        """Stop the current request at its next token. Safe from any thread."""
        self._client.cancel()

    @property
    def restart_estimate_ms(self) -> float:
        """What giving up a read costs: the last restart, else the load and a process start."""
        if self._restart_ms > 0:
            return self._restart_ms
        return (self._loaded.load_ms if self._loaded else 0.0) + PROCESS_START_MS

    # -- answering ---------------------------------------------------------
    def prepare(self, png: bytes, abandon: AbandonCheck | None = None) -> Iterator[RuntimeEvent]:
        """Encode `png` and evaluate the prompt prefix unless it is already prepared.

        `abandon` (for a read ahead) may give the read up mid-way: Abandoned is
        yielded and the worker is started again with the same settings.
        """
        key = image_key(png)
        if key == self._prepared_key:
            return
        loaded = self._require_loaded()
        self._prepared_key = ""
        identity = loaded.provenance
        cache_key = prefix_key(identity.model.sha256, identity.mmproj.sha256, key)
        for event in self._guarded(self._client.prepare(png, cache_key, abandon)):
            if isinstance(event, Prepared):
                self._prepared_key = key
                self.ready.add(key)
                self._remember_encode_time(event.times)
            yield event
            if isinstance(event, Abandoned):
                yield from self._restart_abandoned(loaded)

    def _restart_abandoned(self, loaded: LoadedModel) -> Iterator[RuntimeEvent]:
        """The worker was stopped mid-read on purpose: start it again as it was (no crash)."""
        spec = self._spec
        assert spec is not None
        start = time.perf_counter()
        self.ready.worker_restarted()
        try:
            self._start(spec, loaded.notes)
        except EngineCrashError as error:
            yield from self._after_crash(0, error)
            return
        self._restart_ms = (time.perf_counter() - start) * 1000.0
        log.info("worker restarted after an abandoned read (%.0f ms)", self._restart_ms)

    def _remember_encode_time(self, times: dict[str, object]) -> None:
        """Keep a real image read's time (not a cache hit) as the next countdown's estimate."""
        total = read_time_ms(times)
        if self._loaded is None or total <= 0:
            return
        self._loaded = replace(self._loaded, encode_estimate_ms=total)
        self._encode_times.record(self._timing_key, total)

    def interpret(self, png: bytes, question: str, *, history: Sequence[tuple[str, str]] = (),
                  max_tokens: int | None = None) -> Iterator[RuntimeEvent]:  # fmt: skip
        """Prepare the image if needed, then stream the answer to `question`.

        `history` holds the earlier (question, answer) pairs about this image;
        empty for a first question.

        Yields Prepared (only when the image had to be encoded), Started,
        TextDelta..., and ends with one Finished (its `times` is a
        `Timings.to_json()`) or one Failed. When the engine died, the Failed
        comes at once and, when the engine is restarted, Restarted follows
        (a crash during the restart itself gives a second Failed instead).
        """
        loaded = self._require_loaded()
        start = time.perf_counter()
        prepared: dict[str, Any] | None = None  # None: the image was already prepared
        failed = False
        for event in self.prepare(png):
            failed = failed or isinstance(event, Failed)
            if isinstance(event, Prepared):
                prepared = event.times
            yield event
        if failed:  # after a crash the events go on to say whether the engine was restarted
            return
        times = with_prepared(Timings(model_load_ms=loaded.load_ms), prepared)
        yield from self._ask(question, history, max_tokens, times, start)

    def _ask(self, question: str, history: Sequence[tuple[str, str]], max_tokens: int | None,
             times: Timings, start: float) -> Iterator[RuntimeEvent]:  # fmt: skip
        decoding = self._require_loaded().decoding
        events = self._client.ask(
            question, history=history, max_tokens=max_tokens or decoding.max_tokens,
            temperature=decoding.temperature, seed=decoding.seed,
        )  # fmt: skip
        first_token_ms: float | None = None
        for event in self._guarded(events):
            if isinstance(event, TextDelta) and first_token_ms is None:
                first_token_ms = (time.perf_counter() - start) * 1000.0
            if isinstance(event, Finished):
                total_ms = (time.perf_counter() - start) * 1000.0
                done = with_answer(
                    times, event.times, first_token_ms=first_token_ms, total_ms=total_ms
                )
                summary = finished_times(done, event.times)
                yield Finished(event.request_id, event.stop_reason, summary)
                continue
            yield event

    # -- crashes -------------------------------------------------------------
    def _guarded(self, events: Iterator[Event]) -> Iterator[RuntimeEvent]:
        """Pass events on; when the worker dies, say so at once, then restart it or stop."""
        try:
            for event in events:
                if isinstance(event, Failed) and isinstance(event.error, EngineCrashError):
                    yield from self._after_crash(event.request_id, event.error)
                    return
                if isinstance(event, Finished) and event.stop_reason != "cancelled":
                    self._guard.succeeded()  # a whole answer: not a crash loop
                yield event
        except EngineCrashError as error:
            yield from self._after_crash(0, error)

    def _on_worker_exit(self, generation: int, crash: CrashReport) -> None:
        """Watcher thread: note the death and tell the listener; `recover()` acts on it."""
        self._unhandled_exit = (generation, crash)
        if self._on_engine_exit is not None:
            self._on_engine_exit(crash)

    def recover(self) -> Iterator[RuntimeEvent]:
        """Model thread: deal with a worker that died while no request was reading from it.

        Yields nothing when the death was already dealt with by the request that
        saw it; otherwise the same Failed / Restarted events as a request would.
        """
        pending, self._unhandled_exit = self._unhandled_exit, None
        if pending is None:
            return
        generation, crash = pending
        if generation != self._client.generation or generation == self._handled_generation:
            return
        yield from self._after_crash(0, EngineCrashError(crash.sentence(), crash=crash))

    def _after_crash(self, request_id: int, error: EngineCrashError) -> Iterator[RuntimeEvent]:
        generation = self._client.generation
        self._forget()
        crash = error.crash
        if not isinstance(crash, CrashReport) or generation == self._handled_generation:
            yield Failed(request_id, error)  # not a death we saw (or one already dealt with)
            return
        self._handled_generation = generation
        if not self._guard.record(crash) or self._spec is None or self._checked is None:
            yield Failed(request_id, self._final_error(crash))
            return
        restarting = EngineCrashError(crash.sentence(), hint="Restarting it...", crash=crash)
        yield Failed(request_id, restarting)
        yield from self._restart(crash, self._spec)

    def _restart(self, crash: CrashReport, spec: LoadSpec) -> Iterator[RuntimeEvent]:
        safe = safest(spec)
        note = self._restart_note(crash, spec, safe)
        try:
            loaded = self._start(safe, (*self._notes, note))
        except EngineCrashError as again:
            self._handled_generation = self._client.generation
            crash = self._crash_of(again)
            self._guard.record(crash)
            yield Failed(0, self._final_error(crash))
            return
        except ModelError as error:
            yield Failed(0, error)
            return
        log.info("inference engine restarted after a crash")
        yield Restarted(0, note, loaded)

    def _restart_note(self, crash: CrashReport, before: LoadSpec, after: LoadSpec) -> str:
        """One sentence for the user; remembers the safer settings when they differ."""
        changes = describe_changes(before, after)
        if changes and self._pair_key:
            self.safe_configs.remember(self._pair_key, crash, changes)
        return f"{crash.sentence()} ECG Viewer restarted it{' ' + changes if changes else ''}."

    @staticmethod
    def _crash_of(error: EngineCrashError) -> CrashReport:
        crash = error.crash
        return crash if isinstance(crash, CrashReport) else CrashReport(Phase.IDLE, None)

    def _final_error(self, crash: CrashReport) -> EngineCrashError:
        """The second crash in a row: no more automatic restarts."""
        again = self._guard.in_a_row > 1
        first = "ECG Viewer will not restart it again by itself. " if again else ""
        return EngineCrashError(
            crash.sentence(again=again, signal=True),
            hint=(
                f"{first}The details are in the log file {self._paths.log_file}. Load the "
                "model again from Model settings to retry, or choose another model."
            ),
            crash=crash,
        )

    def _forget(self) -> None:
        self._client.close()
        self._loaded = None
        self._prepared_key = ""
        self.ready.worker_restarted()

    def _require_loaded(self) -> LoadedModel:
        if self._loaded is None:
            last = self._guard.last
            if last is not None and self._guard.in_a_row >= CrashGuard.MAX_IN_A_ROW:
                raise self._final_error(last)  # say why, not just "no model"
            raise ModelError("No model is loaded.", hint="Choose a model in Model settings.")
        return self._loaded
