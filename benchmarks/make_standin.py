"""Write a random-weight GGUF pair with MedGemma-4B's exact shapes (benchmarks only).

    python benchmarks/make_standin.py [--out FOLDER]

Text: gemma3, 2560 wide, 34 blocks, feed-forward 10240, 8 heads / 4 KV heads,
head dim 256, sliding window 1024, linear rope scaling 8, vocabulary 262,144
with the tokenizer copied from the Gemma 3 270M test model and Gemma 3's chat
template; written as F16 (about 7.8 GB, streamed), then quantized to Q4_K_M
(about 2.5 GB) with llama_cpp's quantize API. Projector: SigLIP width 1152,
27 blocks, feed-forward 4304, 16 heads, 896 px, patch 14, gemma3 projector to
2560; F16 matrices, F32 norms, biases and embeddings (about 0.85 GB).

It takes several minutes and about 10 GB of temporary disk. Timing does not
depend on weight values, so the results are labelled "random weights,
MedGemma-4B shapes" wherever they are reported. Default folder: the per-machine
test cache (tests/support/models.cache_dir()).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ecgviewer.core.inference.chat import GEMMA3_FALLBACK_TEMPLATE  # noqa: E402
from tests.support import models  # noqa: E402

WIDTH, BLOCKS, FFN, HEADS, KV_HEADS, HEAD_DIM = 2560, 34, 10240, 8, 4, 256
TEXT_NAME = "standin-medgemma-4b-Q4_K_M.gguf"
MMPROJ_NAME = "standin-medgemma-4b-mmproj-F16.gguf"


def tensor_shapes() -> list[tuple[str, tuple[int, ...]]]:
    """Gemma 3 text tensors as numpy shapes (rows, columns); embeddings are tied."""
    vocab = 262_144
    shapes: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (vocab, WIDTH))]
    for block in range(BLOCKS):
        p = f"blk.{block}."
        shapes += [
            (p + "attn_norm.weight", (WIDTH,)), (p + "attn_q.weight", (HEADS * HEAD_DIM, WIDTH)),
            (p + "attn_k.weight", (KV_HEADS * HEAD_DIM, WIDTH)),
            (p + "attn_v.weight", (KV_HEADS * HEAD_DIM, WIDTH)),
            (p + "attn_output.weight", (WIDTH, HEADS * HEAD_DIM)),
            (p + "attn_q_norm.weight", (HEAD_DIM,)), (p + "attn_k_norm.weight", (HEAD_DIM,)),
            (p + "post_attention_norm.weight", (WIDTH,)), (p + "ffn_norm.weight", (WIDTH,)),
            (p + "ffn_gate.weight", (FFN, WIDTH)), (p + "ffn_up.weight", (FFN, WIDTH)),
            (p + "ffn_down.weight", (WIDTH, FFN)), (p + "post_ffw_norm.weight", (WIDTH,)),
        ]  # fmt: skip
    shapes.append(("output_norm.weight", (WIDTH,)))
    return shapes


def write_text_f16(path: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_string("general.name", "random-weight stand-in, MedGemma-4B shapes")
    for key, value in {"context_length": 131072, "embedding_length": WIDTH,
                       "block_count": BLOCKS, "feed_forward_length": FFN,
                       "attention.head_count": HEADS, "attention.head_count_kv": KV_HEADS,
                       "attention.key_length": HEAD_DIM, "attention.value_length": HEAD_DIM,
                       "attention.sliding_window": 1024}.items():  # fmt: skip
        writer.add_uint32(f"gemma3.{key}", value)
    writer.add_float32("gemma3.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_float32("gemma3.rope.freq_base", 1_000_000.0)
    writer.add_string("gemma3.rope.scaling.type", "linear")
    writer.add_float32("gemma3.rope.scaling.factor", 8.0)
    copy_tokenizer(writer)
    writer.add_string("tokenizer.chat_template", GEMMA3_FALLBACK_TEMPLATE)
    shapes = tensor_shapes()
    for name, shape in shapes:
        dtype = np.float16 if len(shape) > 1 else np.float32
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        writer.add_tensor_info(name, shape, np.dtype(dtype), nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    rng = np.random.default_rng(0)
    for _name, shape in shapes:
        if len(shape) == 1:
            writer.write_tensor_data(np.ones(shape, np.float32))
            continue
        data = np.empty(shape, np.float16)
        for start in range(0, shape[0], 4096):  # bounded memory for the embedding matrix
            rows = data[start : start + 4096]
            rows[...] = rng.standard_normal(rows.shape, dtype=np.float32) * 0.02
        writer.write_tensor_data(data)
    writer.close()


def copy_tokenizer(writer: object) -> None:
    import gguf

    reader = gguf.GGUFReader(str(models.text_model_path()))
    for field in reader.fields.values():
        if not field.name.startswith("tokenizer.") or field.name.endswith("chat_template"):
            continue
        value = field.contents()
        value_type = field.types[0]
        if value_type == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(field.name, value, value_type, sub_type=field.types[-1])  # type: ignore[attr-defined]
        else:
            writer.add_key_value(field.name, value, value_type)  # type: ignore[attr-defined]


def quantize(source: Path, target: Path) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = 15  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    params.nthread = os.cpu_count() or 2
    result = llama_cpp.llama_model_quantize(
        str(source).encode(), str(target).encode(), ctypes.byref(params)
    )
    if result != 0:
        raise SystemExit(f"quantization failed ({result})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=models.cache_dir())
    folder = parser.parse_args().out
    folder.mkdir(parents=True, exist_ok=True)
    text, mmproj, f16 = folder / TEXT_NAME, folder / MMPROJ_NAME, folder / "standin-F16.tmp.gguf"
    start = time.perf_counter()
    if not mmproj.exists():
        models.write_tiny_projector(
            mmproj.with_suffix(".partial"), projection_dim=WIDTH, width=1152, blocks=27,
            image_size=896, patch=14, feed_forward=4304, heads=16, weight_dtype=np.float16,
        )  # fmt: skip
        os.replace(mmproj.with_suffix(".partial"), mmproj)
    print(f"projector ready after {time.perf_counter() - start:.0f} s", flush=True)
    if not text.exists():
        write_text_f16(f16)
        print(f"F16 text model written after {time.perf_counter() - start:.0f} s", flush=True)
        quantize(f16, text.with_suffix(".partial"))
        os.replace(text.with_suffix(".partial"), text)
        f16.unlink()
    print(f"done after {time.perf_counter() - start:.0f} s:\n{text}\n{mmproj}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
