"""The engine: one llama.cpp model and projector, driven step by step.

Runs only inside the inference worker process (see worker.py); nothing here is
called from the GUI process. The steps are separate so the app controls them:

1. `prepare(image)`: encode the image with the vision tower and evaluate the
   prompt up to where the question goes; the resulting KV state is saved.
2. `ask(question)`: restore that state (or continue the conversation), evaluate
   the question's tokens and decode the answer one token at a time, checking
   the cancel flag before every token.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgviewer.core.errors import Cancelled, ModelError
from ecgviewer.core.inference.chat import (
    Exchange,
    PromptRenderer,
    build_messages,
)
from ecgviewer.core.inference.crash import Phase
from ecgviewer.core.inference.handler import (
    load_log,
    make_handler_class,
    read_kv_state,
    silence_native_logs,
    weight_repacking,
    write_kv_state,
)
from ecgviewer.core.inference.machine import MachineFacts, buffer_types, probe, repack_refusal
from ecgviewer.core.inference.prefix_cache import Prefix, PrefixCache, prefix_key
from ecgviewer.core.inference.spec import LoadSpec

log = logging.getLogger(__name__)

Emit = Callable[[str], None]
CancelCheck = Callable[[], bool]
PhaseMark = Callable[[Phase], None]


@dataclass
class StepTimes:
    """Milliseconds spent in each step of one request."""

    image_encode_ms: float = 0.0
    prompt_prefill_ms: float = 0.0
    question_prefill_ms: float = 0.0
    decode_ms: float = 0.0
    decode_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class Engine:
    """Owns one `Llama` and its `MTMDChatHandler`; single-threaded, inside the worker."""

    def __init__(
        self, spec: LoadSpec, cancelled: CancelCheck, mark: PhaseMark = lambda phase: None
    ) -> None:
        self.spec = spec
        self._cancelled = cancelled
        self._mark = mark  # tells the viewer what we are doing, in case we die doing it
        self._llama: Any = None
        self._handler: Any = None
        self._renderer: PromptRenderer | None = None
        self._template_id = ""
        self._prefix: Prefix | None = None
        folder = Path(spec.cache_dir) if spec.cache_dir else None
        self._cache = PrefixCache(folder, spec.cache_limit_bytes)
        # The token ids in the KV cache after the prepared prefix; None when unknown
        # (a question prefill was interrupted). A follow-up continues only when they
        # begin the conversation's tokens; otherwise it is replayed after the image.
        self._kv_tokens: list[int] | None = []
        self._kv_is_prefix = False  # the KV cache holds exactly the prepared prefix
        self.gpu_fallback = False
        self.fallback_template = False
        self.machine = MachineFacts()
        self.repack_applied = False
        self.buffer_types: list[str] = []

    # -- loading -----------------------------------------------------------
    def load(self) -> float:
        """Load the model and projector; returns milliseconds taken.

        Weight repacking is applied only where this machine allows it
        (machine.repack_refusal): no setting may crash the engine.
        """
        start = time.perf_counter()
        silence_native_logs()
        self.machine = probe()
        self.repack_applied = self.spec.repack and not repack_refusal(self.machine)
        self._mark(Phase.LOADING)
        try:
            self._llama = self._build(self.spec.n_gpu_layers)
        except ValueError as exc:
            if self.spec.n_gpu_layers == 0:
                raise ModelError(
                    f"llama.cpp could not load the text model ({exc}).",
                    hint="The file may be damaged or from an incompatible conversion.",
                ) from exc
            log.warning("GPU load failed, retrying on the CPU")
            self.gpu_fallback = True
            self._llama = self._build(0)
        self._init_projector()
        return _ms(start)

    def _build(self, n_gpu_layers: int) -> Any:
        handler_class = make_handler_class()
        self._handler = handler_class(
            clip_model_path=self.spec.mmproj_path, verbose=False, use_gpu=n_gpu_layers != 0
        )
        with load_log() as lines, weight_repacking(self.repack_applied):
            llama = self._new_llama(n_gpu_layers)
        self.buffer_types = buffer_types("".join(lines))
        return llama

    def _new_llama(self, n_gpu_layers: int) -> Any:
        from llama_cpp import Llama

        return Llama(
            model_path=self.spec.text_path,
            chat_handler=self._handler,
            n_ctx=self.spec.n_ctx,
            n_threads=self.spec.n_threads,
            n_threads_batch=self.spec.n_threads,
            n_gpu_layers=n_gpu_layers,
            flash_attn=self.spec.flash_attn,
            use_mmap=self.spec.use_mmap,
            swa_full=False,  # sliding-window layers keep only their window: ~300 MB less
            n_batch=self.spec.n_batch,
            seed=self.spec.seed,
            verbose=False,
        )

    def _init_projector(self) -> None:
        try:
            self._handler._init_mtmd_context(self._llama)
        except ValueError as exc:
            raise ModelError(
                f"llama.cpp could not load the vision projector ({exc}).",
                hint="Use the mmproj converted from the same model as the text GGUF.",
            ) from exc
        template = self._handler._get_chat_template(self._llama)
        self.fallback_template = bool(self._handler.fallback_used)
        # what else decides the prepared state's numbers: attention kernels, weight layout
        self._template_id = prefix_key(
            template, str(self.spec.flash_attn), str(self.repack_applied)
        )
        eos = self._piece(self._llama.token_eos(), special=True)
        bos = self._piece(self._llama.token_bos(), special=True)
        self._renderer = PromptRenderer(template, bos, eos)

    # -- step 1: image and prompt prefix -----------------------------------
    def prepare(self, png: bytes, key: str = "") -> StepTimes:
        """Encode `png` and evaluate the prompt up to the question; saves the KV state.

        With a `key` (model hashes + image hash, from the runtime) a prefix
        prepared earlier, in memory or on disk, is restored instead.
        """
        self._mark(Phase.READING_IMAGE)
        self._kv_is_prefix = False  # whatever the KV cache holds, it is not this image's prefix
        full_key = prefix_key(key, self._template_id) if key else ""
        cached = self._cache.get(full_key) if full_key else None
        if cached is not None:
            self._prefix = cached
            self._restore_prefix()
            return StepTimes(extra={"cached": True, "image_tokens": cached.image_tokens})
        times = self._encode_and_prefill(png)
        if full_key and self._prefix is not None:
            self._cache.put(full_key, self._prefix)
        return times

    def _encode_and_prefill(self, png: bytes) -> StepTimes:
        import llama_cpp
        import llama_cpp.mtmd_cpp as mtmd

        assert self._renderer is not None
        marker = mtmd.mtmd_default_marker().decode("utf-8")
        before, after = self._renderer.split_first_question(marker)
        times = StepTimes()
        chunks = self._tokenize(before, png)
        try:
            self._llama.reset()
            self._llama._ctx.kv_cache_clear()
            for index in range(mtmd.mtmd_input_chunks_size(chunks)):
                self._check_cancel()
                chunk = mtmd.mtmd_input_chunks_get(chunks, index)
                if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                    self._mark(Phase.PREFILL)
                    start = time.perf_counter()
                    self._llama.eval(self._chunk_tokens(chunk))
                    times.prompt_prefill_ms += _ms(start)
                else:
                    self._eval_image(chunk, times, llama_cpp, mtmd)
        finally:
            mtmd.mtmd_input_chunks_free(chunks)
        self._save_prefix(before, after, int(times.extra.get("image_tokens", 0)))
        return times

    def _tokenize(self, text: str, png: bytes) -> Any:
        import llama_cpp.mtmd_cpp as mtmd

        ctx = self._handler.mtmd_ctx
        bitmap = self._handler._create_bitmap_from_bytes(png)
        try:
            raw = text.encode("utf-8")
            item = mtmd.mtmd_input_text()
            item.text, item.text_len = raw, len(raw)
            item.add_special, item.parse_special = True, True
            chunks = mtmd.mtmd_input_chunks_init()
            bitmaps = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
            if mtmd.mtmd_tokenize(ctx, chunks, ctypes.byref(item), bitmaps, 1) != 0:
                mtmd.mtmd_input_chunks_free(chunks)
                raise ModelError("The image could not be prepared for the model.")
            return chunks
        finally:
            mtmd.mtmd_bitmap_free(bitmap)

    @staticmethod
    def _chunk_tokens(chunk: Any) -> list[int]:
        import llama_cpp.mtmd_cpp as mtmd

        count = ctypes.c_size_t()
        pointer = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
        return [pointer[i] for i in range(count.value)]

    def _eval_image(self, chunk: Any, times: StepTimes, llama_cpp: Any, mtmd: Any) -> None:
        ctx = self._handler.mtmd_ctx
        self._mark(Phase.READING_IMAGE)
        start = time.perf_counter()
        if mtmd.mtmd_encode_chunk(ctx, chunk) != 0:
            raise ModelError("The vision encoder failed on this image.")
        times.image_encode_ms += _ms(start)
        self._check_cancel()
        self._mark(Phase.PREFILL)
        start = time.perf_counter()
        new_n_past = llama_cpp.llama_pos(0)
        result = mtmd.mtmd_helper_decode_image_chunk(
            ctx,
            self._llama._ctx.ctx,
            chunk,
            mtmd.mtmd_get_output_embd(ctx),
            llama_cpp.llama_pos(self._llama.n_tokens),
            llama_cpp.llama_seq_id(0),
            self._llama.n_batch,
            ctypes.byref(new_n_past),
            mtmd.mtmd_helper_post_decode_callback(),  # NULL: no callback
            None,
        )
        if result != 0:
            raise ModelError("The image could not be fed to the text model.")
        times.prompt_prefill_ms += _ms(start)
        times.extra["image_tokens"] = new_n_past.value - self._llama.n_tokens
        self._llama.n_tokens = new_n_past.value

    def _save_prefix(self, before: str, after: str, image_tokens: int) -> None:
        state = read_kv_state(self._llama._ctx.ctx)
        self._prefix = Prefix(state, self._llama.n_tokens, before, after, image_tokens)
        self._kv_tokens = []
        self._kv_is_prefix = True

    def _restore_prefix(self) -> None:
        prefix = self._prefix
        if prefix is None:
            raise ModelError("No image has been prepared for this question.")
        self._kv_tokens = []
        if self._kv_is_prefix:  # just prepared: nothing to restore
            return
        self._llama._ctx.kv_cache_clear()
        if not write_kv_state(self._llama._ctx.ctx, prefix.state):
            raise ModelError("The prepared image state could not be restored.")
        self._llama.n_tokens = prefix.tokens
        self._kv_is_prefix = True

    @property
    def prepared(self) -> bool:
        return self._prefix is not None

    # -- step 2: question and answer ---------------------------------------
    def ask(
        self, question: str, *, history: list[Exchange], max_tokens: int, temperature: float,
        seed: int, emit: Emit,
    ) -> tuple[str, StepTimes]:  # fmt: skip
        """Answer `question` after `history` (earlier turns about the same image).

        Streams text through `emit`; returns (stop_reason, times). When `history`
        is what the KV cache already holds, only the new question is evaluated;
        otherwise the conversation is replayed from the prepared image state.
        """
        times = StepTimes()
        start = time.perf_counter()
        self._mark(Phase.PREFILL)
        tokens = self._question_tokens(question, history)
        if self._llama.n_tokens + len(tokens) + 1 > self._llama.n_ctx():
            raise ModelError(
                "The conversation no longer fits in the model's context.",
                hint="Start a new reading, or raise the context length in Model settings.",
            )
        held, self._kv_tokens = self._kv_tokens, None  # unknown until the prefill completes
        self._kv_is_prefix = False
        self._eval_cancellable(tokens)
        self._kv_tokens = [*(held or []), *tokens]
        times.question_prefill_ms = _ms(start)
        times.extra.update(question_tokens=len(tokens), context_tokens=self._llama.n_tokens)
        answer: list[str] = []
        self._mark(Phase.DECODING)
        stop = self._decode(
            max_tokens=max_tokens, temperature=temperature, seed=seed, times=times,
            answer=answer, emit=emit,
        )  # fmt: skip
        return stop, times

    def conversation_tokens(self, question: str, history: list[Exchange]) -> list[int]:
        """The token ids after the image for this conversation: its chat template
        rendered once and tokenized as one string, as llama.cpp's own chat path does."""
        assert self._renderer is not None and self._prefix is not None
        import llama_cpp.mtmd_cpp as mtmd

        marker = mtmd.mtmd_default_marker().decode("utf-8")
        full = self._renderer.render(build_messages(marker, history, question))
        if not full.startswith(self._prefix.text):
            raise ModelError("The chat template renders this conversation unexpectedly.")
        text = full[len(self._prefix.text) :]
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _question_tokens(self, question: str, history: list[Exchange]) -> list[int]:
        """What to evaluate now: the part of the conversation the KV cache lacks.

        The KV cache continues only when the tokens it holds after the image
        begin this conversation's tokens exactly (the answers as sampled equal
        the answers as the template renders and the tokenizer splits them);
        otherwise the prepared image state is restored and the conversation
        replayed. Either way the model sees exactly the reference token ids.
        """
        if self._prefix is None:
            raise ModelError("No image has been prepared for this question.")
        wanted = self.conversation_tokens(question, history)
        held = self._kv_tokens
        if history and held is not None and wanted[: len(held)] == held and len(wanted) > len(held):
            return wanted[len(held) :]
        self._restore_prefix()
        return wanted

    @property
    def kv_tokens(self) -> list[int] | None:
        """The token ids in the KV cache after the prepared image (None when unknown)."""
        return None if self._kv_tokens is None else list(self._kv_tokens)

    def _eval_cancellable(self, tokens: list[int]) -> None:
        batch = self._llama.n_batch
        for offset in range(0, len(tokens), batch):
            self._check_cancel()
            self._llama.eval(tokens[offset : offset + batch])

    def _decode(
        self, *, max_tokens: int, temperature: float, seed: int, times: StepTimes,
        answer: list[str], emit: Emit,
    ) -> str:  # fmt: skip
        import llama_cpp

        llama = self._llama
        llama.set_seed(seed)
        sampler = llama._init_sampler(temp=temperature, repeat_penalty=1.0)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        vocab = llama._model.vocab
        start = time.perf_counter()
        stop = "length"
        for _ in range(max_tokens):
            if self._cancelled():
                stop = "cancelled"
                break
            token = sampler.sample(llama._ctx, -1)
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                stop = "eos"
                break
            piece = decoder.decode(llama._model.detokenize([token], special=False))
            times.decode_tokens += 1
            if piece:
                answer.append(piece)
                emit(piece)
            if llama.n_tokens + 1 >= llama.n_ctx():
                break
            llama.eval([token])
            assert self._kv_tokens is not None
            self._kv_tokens.append(token)
        times.decode_ms = _ms(start)
        return stop

    # -- helpers -----------------------------------------------------------
    def _piece(self, token: int, *, special: bool) -> str:
        return bytes(self._llama._model.detokenize([token], special=special)).decode(
            "utf-8", errors="replace"
        )

    def _check_cancel(self) -> None:
        if self._cancelled():
            raise Cancelled()

    def close(self) -> None:
        """Free llama.cpp's memory explicitly (avoids noisy cleanup at interpreter exit)."""
        if self._llama is not None:
            self._llama.close()
            self._llama = None
