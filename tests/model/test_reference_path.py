"""The app feeds the model exactly what llama.cpp's own chat path would, and answers the same.

The app prepares the image and the prompt up to the question in advance, feeds
the question separately, restores saved KV states and continues conversations.
This test checks each of those against a reference written here from
llama-cpp-python's own parts: the GGUF's chat template rendered once over the
whole conversation by `Jinja2ChatFormatter` (with messages converted by
`MTMDChatHandler`), tokenized by `mtmd_tokenize` as one string with one BOS,
evaluated in a second `Llama`, and answered by a plain argmax loop.

It uses the "quiet" pair (tests/support/models.py): a 270M model with a Gemma 3
chat template in its metadata, and a projector that leaves the text model in
charge, so greedy answers are varied sentences and a difference would show.
"""

from __future__ import annotations

import base64
import ctypes
from typing import Any

import numpy as np
import pytest

from ecgviewer.core.inference.chat import Exchange
from ecgviewer.core.inference.engine import Engine
from ecgviewer.core.inference.handler import weight_repacking
from ecgviewer.core.inference.spec import LoadSpec
from tests.support import models

pytestmark = pytest.mark.slow

MAX_TOKENS = 24
SETTINGS = {"n_ctx": 1024, "n_threads": 2, "n_batch": 256, "flash_attn": True, "seed": 42}
IMAGE = -1  # stands for one image embedding position in a token list


class Reference:
    """llama-cpp-python's chat rendering and mtmd tokenization, and a greedy argmax loop."""

    def __init__(self, text: str, mmproj: str) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import MTMDChatHandler

        self.handler = MTMDChatHandler(clip_model_path=mmproj, verbose=False)
        with weight_repacking(False):  # llama.cpp's AMX buffer crashes on Q4_K weights
            self.llama = Llama(
                model_path=text, chat_handler=self.handler, n_threads_batch=2, swa_full=False,
                verbose=False, **SETTINGS,
            )  # fmt: skip
        self.handler._init_mtmd_context(self.llama)

    def prompt_ids(self, png: bytes, conversation: list[tuple[str, str]]) -> list[int]:
        """All ids of the conversation (last answer ""), image positions as IMAGE."""
        import llama_cpp.mtmd_cpp as mtmd
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        messages: list[dict[str, Any]] = []
        for index, (question, answer) in enumerate(conversation):
            parts: list[dict[str, Any]] = [{"type": "text", "text": question}]
            if index == 0:
                parts.insert(0, {"type": "image_url", "image_url": {"url": url}})
            messages.append({"role": "user", "content": parts})
            if answer:
                messages.append({"role": "assistant", "content": answer})
        marker = mtmd.mtmd_default_marker().decode("utf-8")
        for_template = self.handler._get_template_messages(messages, marker)
        formatter = Jinja2ChatFormatter(
            self.llama.metadata["tokenizer.chat_template"], eos_token="<eos>", bos_token="<bos>"
        )
        text = formatter(messages=for_template).prompt  # rendered once, "<bos>" included
        self.chunks = self._tokenize(text, png)
        return [token for chunk in self.chunks for token in chunk[1]]

    def _tokenize(self, text: str, png: bytes) -> list[tuple[Any, list[int]]]:
        import llama_cpp.mtmd_cpp as mtmd

        bitmap = self.handler._create_bitmap_from_bytes(png)
        raw = text.encode("utf-8")
        item = mtmd.mtmd_input_text()
        item.text, item.text_len = raw, len(raw)
        item.add_special, item.parse_special = False, True  # the template wrote the BOS
        self._chunks = mtmd.mtmd_input_chunks_init()
        bitmaps = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
        assert mtmd.mtmd_tokenize(self.handler.mtmd_ctx, self._chunks, ctypes.byref(item),
                                  bitmaps, 1) == 0  # fmt: skip
        chunks = []
        for index in range(mtmd.mtmd_input_chunks_size(self._chunks)):
            chunk = mtmd.mtmd_input_chunks_get(self._chunks, index)
            if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                count = ctypes.c_size_t()
                pointer = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
                chunks.append((chunk, [pointer[i] for i in range(count.value)]))
            else:
                chunks.append((chunk, [IMAGE] * mtmd.mtmd_input_chunk_get_n_tokens(chunk)))
        return chunks

    def greedy(self) -> list[int]:
        """Evaluate the last tokenized prompt from an empty cache; argmax until EOG or the limit."""
        import llama_cpp
        import llama_cpp.mtmd_cpp as mtmd

        llama = self.llama
        llama.reset()
        llama._ctx.kv_cache_clear()
        for chunk, tokens in self.chunks:
            if tokens[0] != IMAGE:
                llama.eval(tokens)
                continue
            new_n_past = llama_cpp.llama_pos(0)
            assert mtmd.mtmd_helper_eval_chunk_single(
                self.handler.mtmd_ctx, llama._ctx.ctx, chunk, llama_cpp.llama_pos(llama.n_tokens),
                llama_cpp.llama_seq_id(0), llama.n_batch, False, ctypes.byref(new_n_past),
            ) == 0  # fmt: skip
            llama.n_tokens = new_n_past.value
        answer: list[int] = []
        vocab = llama._model.vocab
        for _ in range(MAX_TOKENS):
            logits = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
            token = int(np.argmax(np.ctypeslib.as_array(logits, shape=(llama.n_vocab(),))))
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                break
            answer.append(token)
            llama.eval([token])
        return answer

    def close(self) -> None:
        self.llama.close()


class RecordedApp:
    """The app's engine, with every token it feeds llama.cpp recorded."""

    def __init__(self, text: str, mmproj: str) -> None:
        spec = LoadSpec(text_path=text, mmproj_path=mmproj, **SETTINGS)  # type: ignore[arg-type]
        self.engine = Engine(spec, lambda: False)
        self.engine.load()
        self.fed: list[int] = []
        llama = self.engine._llama
        evaluate, read_image = llama.eval, self.engine._eval_image
        restore = self.engine._restore_prefix

        def record_eval(tokens: list[int]) -> None:
            self.fed.extend(tokens)
            evaluate(tokens)

        def record_image(*args: Any) -> None:
            before = llama.n_tokens
            read_image(*args)
            self.fed.extend([IMAGE] * (llama.n_tokens - before))

        def record_restore() -> None:
            restore()
            self.fed = self.fed[: self.prefix_length]  # the KV cache is the prefix again

        llama.eval = record_eval
        self.engine._eval_image = record_image  # type: ignore[method-assign]
        self.engine._restore_prefix = record_restore  # type: ignore[method-assign]
        self.prefix_length = 0

    def prepare(self, png: bytes) -> None:
        self.fed = []
        self.engine.prepare(png)
        self.prefix_length = len(self.fed)

    def ask(self, question: str, history: list[tuple[str, str]]) -> str:
        parts: list[str] = []
        self.engine.ask(
            question, history=[Exchange(q, a) for q, a in history], max_tokens=MAX_TOKENS,
            temperature=0.0, seed=42, emit=parts.append,
        )  # fmt: skip
        return "".join(parts)

    def close(self) -> None:
        self.engine.close()


@pytest.fixture(scope="module")
def paths() -> tuple[str, str]:
    return str(models.templated_text_model_path()), str(models.quiet_projector_path())


def test_app_feeds_and_answers_as_the_reference_path(
    paths: tuple[str, str], other_png: bytes
) -> None:
    # a plain pink page: on it the quiet pair writes sentences (on the drawn sample page it
    # writes only newlines, and every comparison would pass)
    ecg_png = other_png
    app, reference = RecordedApp(*paths), Reference(*paths)
    try:
        app.prepare(ecg_png)

        def check(question: str, history: list[tuple[str, str]]) -> str:
            text = app.ask(question, history)
            expected = reference.prompt_ids(ecg_png, [*history, (question, "")])
            assert expected.count(2) == 1  # one <bos>, at the start
            assert expected[0] == 2
            answer_ids = reference.greedy()
            # what the app fed: the chat template rendered once, then its own greedy tokens
            assert app.fed == expected + answer_ids[: len(app.fed) - len(expected)]
            assert app.fed[len(expected) :] == answer_ids[: len(app.fed) - len(expected)]
            reference_text = reference.llama.detokenize(answer_ids).decode("utf-8", "replace")
            assert text == reference_text
            assert app.engine.kv_tokens == app.fed[app.prefix_length :]
            return text

        first = check("What is the heart rate?", [])
        assert sum(c.isalpha() for c in first) > 20, first  # a sentence, not newlines
        follow_up_history = [("What is the heart rate?", first)]
        follow_up = check("Describe the rhythm.", follow_up_history)
        assert sum(c.isalpha() for c in follow_up) > 20, follow_up
        regenerated = check("What is the heart rate?", [])  # Regenerate: from the image again
        assert regenerated == first
        check("Is there ST elevation?", [])  # another branch now fills the KV cache
        replayed = check("Describe the rhythm.", follow_up_history)  # restored, then replayed
        assert replayed == follow_up
    finally:
        app.close()
        reference.close()
