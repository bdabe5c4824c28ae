"""Importance-matrix calibration on the real task, and perplexity: both run the model itself.

llama.cpp's `llama-imatrix` reads text only. This reads what the model will
read in ECG Viewer: ECG images through the projector (as image embeddings in
the text model), each followed by a model-card question and cardiology answer
text, plus a cardiology corpus written for this project (resources/calibration,
no patient data). For every matrix multiplication with a `blk.*` weight,
llama.cpp's per-node evaluation callback (`cb_eval`) hands us the activations;
we add up their squares per input column, as llama-imatrix does.

Both jobs run in a child process (child.py): they can be cancelled at once and
a crash inside llama.cpp ends only the child.
"""

from __future__ import annotations

import ctypes
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgviewer.core.inference.engine import Engine
from ecgviewer.core.modelimport.imatrix_file import Imatrix, write_imatrix

# Measured with benchmarks/bench_import.py, two cores, MedGemma-4B shapes (performance.md):
# 8 images + 1,600 words took 684 s and 8 images + 6,085 words 1,191 s.
SECONDS_PER_IMAGE_4B = 63.0  # the image read, its question and answer text
SECONDS_PER_WORD_4B = 0.113  # corpus text, every token with an output as llama-imatrix does
DEFAULT_IMAGES = 8
WORDS_PER_IMAGE = 200


@dataclass(frozen=True)
class Material:
    """What calibration reads: text passages, and images with a question and an answer."""

    texts: list[str]
    images: list[tuple[str, str, str]]  # (png path, question, answer)

    def to_file(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def from_file(cls, path: Path) -> Material:
        data = json.loads(path.read_text(encoding="utf-8"))
        images = [(str(a), str(b), str(c)) for a, b, c in data["images"]]
        return cls(list(data["texts"]), images)


def corpus_paragraphs(name: str = "cardiology.txt") -> list[str]:
    from ecgviewer.core.paths import resources_dir

    text = (resources_dir() / "calibration" / name).read_text(encoding="utf-8")
    return [part.strip() for part in text.split("\n\n") if part.strip()]


def build_material(folder: Path, images: int) -> Material:
    """`images` ECGs (the bundled sample, then synthetic ones at other rates) written to
    `folder`, paired with model-card questions and corpus paragraphs; and corpus text,
    about WORDS_PER_IMAGE words per image (the one setting: "calibration images")."""
    from ecgviewer.core.imaging.synthetic import render
    from ecgviewer.core.inference.prompts import PRESETS
    from ecgviewer.core.workspace import open_case

    paragraphs = corpus_paragraphs()
    texts, words = [], 0
    for paragraph in paragraphs:  # the amount of text grows with the amount of images
        if words >= WORDS_PER_IMAGE * images:
            break
        texts.append(paragraph)
        words += len(paragraph.split())
    pairs = []
    for index in range(images):
        path = folder / f"calibration-{index}.png"
        if index == 0:
            from ecgviewer.core.paths import resources_dir

            png = open_case(resources_dir() / "samples" / "sample-ecg.png").model_png()
        else:
            picture = render(width_px=1400, heart_rate=48 + 11 * index).image
            buffer = io.BytesIO()
            picture.resize((896, 896)).save(buffer, format="PNG")
            png = buffer.getvalue()
        path.write_bytes(png)
        question = PRESETS[index % len(PRESETS)].text
        pairs.append((str(path), question, paragraphs[index % len(paragraphs)]))
    return Material(texts, pairs)


def calibration_seconds(images: int, text_hidden: int, text_layers: int = 34) -> float:
    """A duration for the dialog: MedGemma-4B's measured costs, scaled by the model's size."""
    scale = (text_hidden / 2560) ** 2 * (text_layers / 34)
    per_image = SECONDS_PER_IMAGE_4B + WORDS_PER_IMAGE * SECONDS_PER_WORD_4B
    return images * per_image * scale + 30


# -- in the child ---------------------------------------------------------------
class _Tensor(ctypes.Structure):
    """The start of ggml's `struct ggml_tensor` (ggml.h of llama-cpp-python 0.3.36)."""


_Tensor._fields_ = [
    ("type", ctypes.c_int), ("buffer", ctypes.c_void_p),
    ("ne", ctypes.c_int64 * 4), ("nb", ctypes.c_size_t * 4), ("op", ctypes.c_int),
    ("op_params", ctypes.c_int32 * 16), ("flags", ctypes.c_int32),
    ("src", ctypes.POINTER(_Tensor) * 10), ("view_src", ctypes.POINTER(_Tensor)),
    ("view_offs", ctypes.c_size_t), ("data", ctypes.c_void_p), ("name", ctypes.c_char * 64),
]  # fmt: skip
GGML_TYPE_F32 = 0


class Collector:
    """The cb_eval callback: squared activations per input column of every blk.* weight."""

    def __init__(self) -> None:
        import llama_cpp.llama_cpp as native

        name_of = native._lib.ggml_op_name  # ggml's own op names, not a hard-coded number
        name_of.restype, name_of.argtypes = ctypes.c_char_p, [ctypes.c_int]
        self.mul_mat = next(op for op in range(200) if name_of(op) == b"MUL_MAT")
        self.imatrix = Imatrix()
        self.callback = native.ggml_backend_sched_eval_callback(self._on_node)

    def _on_node(self, pointer: int, ask: bool, _data: int) -> bool:
        node = ctypes.cast(pointer, ctypes.POINTER(_Tensor)).contents
        if node.op != self.mul_mat:
            return not ask  # not ours: skip when asked, go on otherwise
        weight, activations = node.src[0].contents, node.src[1].contents
        name = weight.name.decode("utf-8", "replace").split("#")[-1]
        if ask:  # as llama-imatrix: F32 activations of at least 16 rows, into blk.* weights
            return bool(name.startswith("blk.") and activations.type == GGML_TYPE_F32
                        and activations.ne[1] >= 16)  # fmt: skip
        columns, rows = activations.ne[0], activations.ne[1] * activations.ne[2] * activations.ne[3]
        values = np.ctypeslib.as_array(
            ctypes.cast(activations.data, ctypes.POINTER(ctypes.c_float)),
            shape=(rows * activations.nb[1] // 4,),
        ).reshape(rows, activations.nb[1] // 4)[:, :columns]
        self.imatrix.add(name, np.einsum("ij,ij->j", values, values, dtype=np.float64), rows)
        return True


def collect_in_child(job: dict[str, Any], fraction: Any) -> None:
    """Child process: read the material with the F16 model and write the imatrix file.

    `job`: text, mmproj, material (file), out (file), threads.
    """
    import llama_cpp.llama_cpp as native

    from ecgviewer.core.inference.handler import silence_native_logs
    from ecgviewer.core.inference.spec import LoadSpec

    silence_native_logs()
    collector = Collector()
    original = native.llama_context_default_params

    def params() -> Any:
        result = original()
        result.cb_eval = collector.callback
        return result

    native.llama_context_default_params = params
    # batches of 256: llama.cpp keeps one row of logits (262,144 floats for Gemma) per token
    spec = LoadSpec(job["text"], job["mmproj"], n_ctx=2048, n_threads=job["threads"],
                    flash_attn=True, n_batch=256)  # fmt: skip
    engine = CalibrationReader(spec, lambda: False)
    engine.load()
    native.llama_context_default_params = original
    material = Material.from_file(Path(job["material"]))
    steps = len(material.texts) + len(material.images)
    for done, item in enumerate([*material.images, *material.texts]):
        if isinstance(item, str):
            engine.read_text(item)
        else:
            engine.prepare(Path(item[0]).read_bytes())
            engine.read_along(item[1], item[2])
        fraction.value = (done + 1) / steps
    collector.imatrix.datasets = ["ECG Viewer: ECG images, model-card questions, cardiology text"]
    collector.imatrix.chunks = steps
    write_imatrix(Path(job["out"]), collector.imatrix)
    engine.close()


class CalibrationReader(Engine):
    """The engine, reading given text instead of writing answers (teacher forcing).

    Text is evaluated with an output for every token, as llama-imatrix does:
    otherwise llama.cpp computes the last block only for the batch's last
    token, and that block's weights would get no statistics.
    """

    def _eval_cancellable(self, tokens: list[int]) -> None:
        from llama_cpp._internals import LlamaBatch

        llama = self._llama
        batch = LlamaBatch(n_tokens=llama.n_batch, embd=0, n_seq_max=1, verbose=False)
        for offset in range(0, len(tokens), llama.n_batch):
            part = tokens[offset : offset + llama.n_batch]
            batch.set_batch(part, n_past=llama.n_tokens, logits_all=True)
            llama._ctx.decode(batch)
            llama.n_tokens += len(part)

    def read_text(self, text: str) -> None:
        """Evaluate `text` from an empty cache, BOS first."""
        ids = self._llama.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        self._llama.reset()
        self._llama._ctx.kv_cache_clear()
        self._kv_is_prefix, self._kv_tokens = False, None
        self._eval_cancellable(ids[: self._llama.n_ctx() - 1])

    def read_along(self, question: str, answer: str) -> None:
        """After the prepared image: the question, then `answer` as if the model wrote it."""
        ids = self.conversation_tokens(question, [])
        ids += self._llama.tokenize(answer.encode("utf-8"), add_bos=False, special=False)
        self._restore_prefix()
        self._kv_is_prefix, self._kv_tokens = False, None
        room = self._llama.n_ctx() - self._llama.n_tokens - 1
        self._eval_cancellable(ids[:room])


def perplexity_in_child(job: dict[str, Any], fraction: Any) -> None:
    """Child process: perplexity of job["model"] on job["text"] (a file), in windows of 512
    tokens each starting with BOS; writes {"perplexity", "tokens"} to job["out"]."""
    from llama_cpp import Llama

    from ecgviewer.core.inference.handler import silence_native_logs, weight_repacking

    silence_native_logs()
    with weight_repacking(False):
        llama = Llama(model_path=job["model"], n_ctx=512, n_batch=512, logits_all=True,
                      n_threads=job["threads"], verbose=False)  # fmt: skip
    text = Path(job["text"]).read_text(encoding="utf-8")
    ids = llama.tokenize(text.encode("utf-8"), add_bos=False)
    window = 511
    total, count = 0.0, 0
    starts = list(range(0, max(1, len(ids) - 1), window))
    for number, start in enumerate(starts):
        part = [llama.token_bos(), *ids[start : start + window]]
        llama.reset()
        llama._ctx.kv_cache_clear()
        llama.eval(part)
        logits = np.array(llama.scores[: len(part) - 1], dtype=np.float64)
        top = logits.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        targets = np.array(part[1:])
        total += float(np.sum(log_norm - logits[np.arange(len(targets)), targets]))
        count += len(targets)
        fraction.value = (number + 1) / len(starts)
    llama.close()
    Path(job["out"]).write_text(json.dumps({"perplexity": math.exp(total / max(1, count)),
                                          "tokens": count}), encoding="utf-8")  # fmt: skip
