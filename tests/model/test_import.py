"""`ecgviewer models import` on tiny random Gemma 3 checkpoints, checked against a reference.

The checkpoints (tests/support/hf_checkpoint.py) have both tensor layouts and
both config dialects, bf16 shards, a padded vocabulary, a sliding-window layer
and a global layer with linear rope scaling, and a two-block SigLIP tower with
the Gemma 3 projector's pooling. The reference (tests/support/gemma3_reference.py)
is a numpy forward pass written from the Hugging Face definition, so a mistake
in the converter (a norm without +1, rope scaling on the wrong layers, the
pooling grid, the image mean and std) shows up as a difference in logits or
image embeddings.
"""

from __future__ import annotations

import ctypes
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ecgviewer.core.errors import Cancelled
from ecgviewer.core.inference.handler import weight_repacking
from ecgviewer.core.inference.preflight import check_pair
from ecgviewer.core.modelimport.importer import ImportRequest, ImportResult, import_checkpoint
from tests.support import gemma3_reference as reference
from tests.support.hf_checkpoint import TinySpec, read_tensors, tokenizer, write_checkpoint

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
IDS_TEXT = "The rhythm is sinus with a rate of 72 beats per minute and a normal axis."


def run_import(folder: Path, out: Path, quant: str = "F16", **options: Any) -> ImportResult:
    request = ImportRequest(folder, out, quant, threads=2, check=options.pop("check", False))
    return import_checkpoint(request, lambda stage, fraction: None, lambda: False)


@contextmanager
def llama(text: Path) -> Iterator[Any]:
    from llama_cpp import Llama

    with weight_repacking(False):
        model = Llama(model_path=str(text), n_ctx=128, n_batch=128, logits_all=True,
                      n_threads=2, verbose=False)  # fmt: skip
    try:
        yield model
    finally:
        model.close()


def llama_logits(text: Path, ids: list[int]) -> np.ndarray:
    with llama(text) as model:
        model.eval(ids)
        return np.array(model.scores[: len(ids)], dtype=np.float32)


def mtmd_image_embeddings(text: Path, mmproj: Path, png: bytes) -> np.ndarray:
    """The projector's output for `png`, as llama.cpp's mtmd computes it."""
    import llama_cpp.mtmd_cpp as mtmd
    from llama_cpp.llama_chat_format import MTMDChatHandler

    with llama(text) as model:
        handler = MTMDChatHandler(clip_model_path=str(mmproj), verbose=False)
        handler._init_mtmd_context(model)
        bitmap = handler._create_bitmap_from_bytes(png)
        item = mtmd.mtmd_input_text()
        marker = mtmd.mtmd_default_marker()
        item.text, item.text_len, item.add_special, item.parse_special = (
            marker,
            len(marker),
            False,
            True,
        )
        chunks = mtmd.mtmd_input_chunks_init()
        bitmaps = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
        assert mtmd.mtmd_tokenize(handler.mtmd_ctx, chunks, ctypes.byref(item), bitmaps, 1) == 0
        count = mtmd.mtmd_input_chunks_size(chunks)
        every = [mtmd.mtmd_input_chunks_get(chunks, i) for i in range(count)]
        text_kind = mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT
        image = next(c for c in every if mtmd.mtmd_input_chunk_get_type(c) != text_kind)
        assert mtmd.mtmd_encode_chunk(handler.mtmd_ctx, image) == 0
        tokens = mtmd.mtmd_input_chunk_get_n_tokens(image)
        width = model.n_embd()
        output = mtmd.mtmd_get_output_embd(handler.mtmd_ctx)
        embeddings = np.ctypeslib.as_array(output, shape=(tokens * width,)).reshape(tokens, width)
        result = embeddings.copy()
        mtmd.mtmd_input_chunks_free(chunks)
        mtmd.mtmd_bitmap_free(bitmap)
        handler.close() if hasattr(handler, "close") else None
        return result


def sample_image() -> tuple[bytes, np.ndarray]:
    """A 56 x 56 picture (the tiny tower's size, so no resampling differs): PNG and pixels."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (56, 56, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue(), pixels


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """The largest difference, relative to the largest reference value."""
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def relative_rms(got: np.ndarray, want: np.ndarray) -> float:
    """The size of the difference relative to the size of the reference (RMS over all)."""
    return float(np.sqrt(np.mean((got - want) ** 2) / np.mean(want**2)))


@pytest.mark.parametrize(("layout", "transformers5"), [("old", False), ("new", True)])
def test_an_f16_import_matches_the_reference_forward_pass(
    tmp_path: Path, layout: str, transformers5: bool
) -> None:
    folder = write_checkpoint(tmp_path / "tiny-gemma3", TinySpec(vocab_pad=16), layout=layout,
                              transformers5=transformers5, dtype="bf16", shards=2)  # fmt: skip
    result = run_import(folder, tmp_path / "out")
    check_pair(result.text_model, result.mmproj)  # our preflight accepts the pair
    config = json.loads((folder / "config.json").read_text())
    tensors = read_tensors(folder)
    ids = [2, *tokenizer().encode(IDS_TEXT)]
    assert len(ids) > TinySpec().sliding_window * 2  # the sliding window matters
    want = reference.text_logits(tensors, config, ids)[:, : len(tokenizer_pieces())]
    got = llama_logits(result.text_model, ids)
    # F16 weights and an F16 KV cache against float32 numpy: a few parts per thousand
    assert relative_error(got, want) < 0.01
    png, pixels = sample_image()
    want_image = reference.image_embeddings(tensors, config, reference.preprocess(pixels, folder))
    got_image = mtmd_image_embeddings(result.text_model, result.mmproj, png)
    assert got_image.shape == want_image.shape == (4, TinySpec().hidden)
    assert relative_error(got_image, want_image) < 0.01


def tokenizer_pieces() -> list[str]:
    processor = tokenizer()
    return [processor.id_to_piece(i) for i in range(processor.vocab_size())]


@pytest.mark.parametrize(("quant", "tolerance"), [("Q8_0", 0.05), ("Q4_K_M", 0.25)])
def test_quantized_imports_stay_close_to_the_reference(
    tmp_path: Path, quant: str, tolerance: float
) -> None:
    """Relative RMS of the logits. Q8_0 rounds weights to 8 bits and llama.cpp also rounds the
    activations to 8 bits for its Q8 dot products: about 3 % on these small random logits
    (measured 0.031). Q4_K_M keeps 4-6 bits per weight; on these 64-wide rows llama.cpp falls back
    to other types where K-quants need 256 columns, so the logits move more (measured 0.142)."""
    folder = write_checkpoint(tmp_path / "tiny-gemma3", layout="old")
    result = run_import(folder, tmp_path / "out", quant)
    config = json.loads((folder / "config.json").read_text())
    ids = [2, *tokenizer().encode(IDS_TEXT)]
    want = reference.text_logits(read_tensors(folder), config, ids)
    error = relative_rms(llama_logits(result.text_model, ids), want)
    assert error < tolerance


def test_llama_cpp_tokenizes_as_sentencepiece_does(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "tiny-gemma3", layout="new", transformers5=True)
    result = run_import(folder, tmp_path / "out")
    samples = ["Sinus rhythm, rate 72 bpm.", "  leading spaces and ÄÖ unicode", "QTc 440 ms",
               "<start_of_turn>user\nHello<end_of_turn>"]  # fmt: skip
    with llama(result.text_model) as model:
        for text in samples[:3]:
            assert model.tokenize(text.encode(), add_bos=False) == tokenizer().encode(text), text
        turn = model.tokenize(samples[3].encode(), add_bos=False, special=True)
        assert turn[0] == 4 and 5 in turn  # <start_of_turn>, <end_of_turn>: one token each


def test_the_app_reads_the_sample_ecg_with_an_imported_pair(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "tiny-gemma3", layout="new", transformers5=True)
    result = run_import(folder, tmp_path / "out", "Q8_0", check=True)
    assert result.check["tokens"] > 0
    assert result.check["outcome"] in ("ok", "empty", "repeated", "garbled")
    report = json.loads((tmp_path / "out" / (result.text_model.stem + "-import.json")).read_text())
    assert report["sha256"]["text_model"] == result.sha256["text_model"]
    assert report["source"]["known_pair"] == ""  # not in models/manifest.json
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [result.text_model.name, result.mmproj.name, result.text_model.stem + "-import.json"]
    )  # nothing else is left behind


def test_cli_json(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "tiny-gemma3", layout="old")
    run = subprocess.run(
        [sys.executable, "-m", "ecgviewer", "models", "import", str(folder), "--out",
         str(tmp_path / "out"), "--quant", "Q8_0", "--no-check", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["quant"] == "Q8_0" and data["imatrix"] == "none"
    assert Path(data["text_model"]).is_file() and Path(data["mmproj"]).is_file()
    assert set(data["timings"]) >= {"read_ms", "convert_ms", "quantize_ms"}
    bad = subprocess.run(
        [sys.executable, "-m", "ecgviewer", "models", "import", str(tmp_path), "--out",
         str(tmp_path / "out2")], cwd=REPO, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "no config.json" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("stage", ["read", "convert", "calibrate", "quantize", "check"])
def test_cancel_at_any_stage_leaves_the_output_folder_as_it_was(tmp_path: Path, stage: str) -> None:
    folder = write_checkpoint(tmp_path / "tiny-gemma3", layout="old")
    out = tmp_path / "out"
    out.mkdir()
    (out / "other.gguf").write_bytes(b"someone else's file")
    seen: list[str] = []
    request = ImportRequest(folder, out, "Q4_K_M", threads=2, check=True, calibration_images=1)
    with pytest.raises(Cancelled):
        import_checkpoint(request, lambda s, f: seen.append(s), lambda: stage in seen)
    assert [p.name for p in out.iterdir()] == ["other.gguf"]


def test_a_merged_lora_adapter_gives_the_reference_logits_of_base_plus_adapter(
    tmp_path: Path,
) -> None:
    from tests.support.hf_checkpoint import write_lora

    base = write_checkpoint(tmp_path / "tiny-gemma3", layout="old")
    adapter = write_lora(tmp_path / "adapter", base, r=4, alpha=8)
    request = ImportRequest(base, tmp_path / "out", "F16", threads=2, check=False, lora=adapter)
    result = import_checkpoint(request, lambda stage, fraction: None, lambda: False)
    config = json.loads((base / "config.json").read_text())
    ids = [2, *tokenizer().encode(IDS_TEXT)]
    tensors = read_tensors(base)
    merged = reference.text_logits(reference.merged_lora(tensors, adapter), config, ids)
    unmerged = reference.text_logits(tensors, config, ids)
    got = llama_logits(result.text_model, ids)
    assert relative_error(got, merged) < 0.01
    assert relative_error(got, unmerged) > 0.05  # the adapter really changed the model
    assert result.source["lora"] == {"folder": "adapter", "scale": 2.0}


def test_tensors_converted_in_small_pieces_give_the_same_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are converted a few MB at a time (the 4B embedding is 2.7 GB in float32); with
    pieces of a few rows, a padded vocabulary and a LoRA merge still give the reference."""
    from ecgviewer.core.modelimport import gguf_out
    from tests.support.hf_checkpoint import write_lora

    monkeypatch.setattr(gguf_out, "CHUNK_ELEMENTS", 200)  # 3 rows of 64 at a time
    base = write_checkpoint(tmp_path / "tiny-gemma3", TinySpec(vocab_pad=16), layout="new")
    adapter = write_lora(tmp_path / "adapter", base, layout="new")
    request = ImportRequest(base, tmp_path / "out", "F16", threads=2, check=False, lora=adapter)
    result = import_checkpoint(request, lambda stage, fraction: None, lambda: False)
    config = json.loads((base / "config.json").read_text())
    ids = [2, *tokenizer().encode(IDS_TEXT)]
    merged = reference.merged_lora(read_tensors(base), adapter)
    want = reference.text_logits(merged, config, ids)[:, : len(tokenizer_pieces())]
    assert relative_error(llama_logits(result.text_model, ids), want) < 0.01


def test_cancel_while_the_conversion_check_is_answering(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "tiny-gemma3", layout="old")
    out = tmp_path / "out"
    loaded = []

    def progress(stage: str, fraction: float) -> None:
        if stage == "check" and fraction == 0.3:  # the pair is loaded in the app's worker
            loaded.append(True)

    request = ImportRequest(folder, out, "Q8_0", threads=2, check=True)
    with pytest.raises(Cancelled):
        import_checkpoint(request, progress, lambda: bool(loaded))
    assert list(out.iterdir()) == []


def test_a_second_quantization_reuses_the_identical_projector(tmp_path: Path) -> None:
    folder = write_checkpoint(tmp_path / "tiny-gemma3", layout="old")
    first = run_import(folder, tmp_path / "out", "F16")
    second = run_import(folder, tmp_path / "out", "Q8_0")
    assert first.mmproj == second.mmproj and second.sha256["mmproj"] == first.sha256["mmproj"]
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted([
        "mmproj-tiny-gemma3-F16.gguf", "tiny-gemma3-F16.gguf", "tiny-gemma3-F16-import.json",
        "tiny-gemma3-Q8_0.gguf", "tiny-gemma3-Q8_0-import.json",
    ])  # fmt: skip
