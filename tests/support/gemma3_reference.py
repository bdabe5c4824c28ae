"""Numpy forward passes of Gemma 3, written from the Hugging Face model definition.

The importer's tests compare llama.cpp's output on a converted tiny checkpoint with these, so
they follow transformers' `Gemma3ForConditionalGeneration` step by step (float32 throughout)
instead of llama.cpp's own code: a bug shared by the converter and this file would hide itself.

Run `python -m tests.support.gemma3_reference` from the repository root for a self-test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Final

import numpy as np

from tests.support.hf_checkpoint import read_tensors

Tensors = dict[str, np.ndarray]

# Stored prefix -> canonical prefix; the longer "model.*" prefixes must come before "model.".
_PREFIXES: Final = (
    ("language_model.model.", "text."),
    ("model.language_model.", "text."),
    ("language_model.lm_head.", "lm_head."),
    ("vision_tower.vision_model.", "vision."),
    ("model.vision_tower.vision_model.", "vision."),
    ("multi_modal_projector.", "mm."),
    ("model.multi_modal_projector.", "mm."),
    ("model.", "text."),  # a text-only Gemma3ForCausalLM checkpoint
)


def canonical(name: str) -> str:
    """One spelling for both layouts: text./vision./mm./lm_head. prefixes."""
    for stored, short in _PREFIXES:
        if name.startswith(stored):
            return short + name[len(stored) :]
    return name


def _canonical_tensors(tensors: Tensors) -> Tensors:
    """The tensors keyed by canonical names, as float32."""
    return {canonical(name): np.asarray(value, np.float32) for name, value in tensors.items()}


def _text_config(config: dict[str, Any]) -> dict[str, Any]:
    """The text part of a multimodal config, or a text-only config itself."""
    text: dict[str, Any] = config.get("text_config", config)
    return text


# --- shared pieces ----------------------------------------------------------------------------


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU with the tanh approximation ("gelu_pytorch_tanh")."""
    inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
    return np.asarray(0.5 * x * (1.0 + np.tanh(inner)), np.float32)


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """Gemma's RMSNorm over the last axis; the weight is stored as an offset from 1."""
    scale = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + np.float32(eps))
    return np.asarray(x * scale * (1.0 + weight), np.float32)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """SigLIP's ordinary LayerNorm (the weight multiplies directly, unlike Gemma's)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return np.asarray((x - mean) / np.sqrt(var + np.float32(eps)) * weight + bias, np.float32)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis in float32; -inf entries get exactly zero weight."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=-1, keepdims=True), np.float32)


# --- text model -------------------------------------------------------------------------------


def layer_is_sliding(text_config: dict[str, Any], layer: int) -> bool:
    """transformers 5 (and 4.53+) list layer types; older configs give a pattern."""
    kinds = text_config.get("layer_types")
    if kinds is not None:
        return bool(kinds[layer] == "sliding_attention")
    pattern = int(text_config.get("sliding_window_pattern", 6))
    return (layer + 1) % pattern != 0


def rope_settings(text_config: dict[str, Any], sliding: bool) -> tuple[float, float]:
    """(base, linear factor) for a layer type, from either config dialect."""
    kind = "sliding_attention" if sliding else "full_attention"
    params = text_config.get("rope_parameters")
    if isinstance(params, dict) and kind in params:
        chosen: dict[str, Any] = params[kind]
    elif sliding:  # transformers 4: local layers use plain RoPE with their own base
        return float(text_config.get("rope_local_base_freq", 10_000.0)), 1.0
    elif isinstance(params, dict):
        chosen = params
    else:
        chosen = {
            **(text_config.get("rope_scaling") or {}),
            "rope_theta": text_config.get("rope_theta", 1_000_000.0),
        }
    kind_of_rope = chosen.get("rope_type", chosen.get("type", "default"))
    if kind_of_rope == "default":
        return float(chosen["rope_theta"]), 1.0
    if kind_of_rope == "linear":
        return float(chosen["rope_theta"]), float(chosen["factor"])
    raise NotImplementedError(f"RoPE type {kind_of_rope!r} is not in this reference")


def apply_rope(x: np.ndarray, base: float, factor: float) -> np.ndarray:
    """Rotate-half (NeoX) RoPE over the whole head; x is [tokens, heads, head_dim].

    Linear scaling divides the inverse frequencies, i.e. the positions, by `factor`.
    """
    dim = x.shape[-1]
    inv_freq = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim)) / factor
    angles = np.arange(x.shape[0], dtype=np.float32)[:, None] * inv_freq[None, :].astype(np.float32)
    angles = np.concatenate([angles, angles], axis=-1)[:, None, :]
    half = dim // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return np.asarray(x * np.cos(angles) + rotated * np.sin(angles), np.float32)


def attention_mask(tokens: int, window: int | None) -> np.ndarray:
    """[query, key] True where attention is allowed.

    transformers (masking_utils): causal is `kv_idx <= q_idx`; the sliding overlay is
    `kv_idx > q_idx - sliding_window`, so a query sees at most `sliding_window` keys,
    itself included.
    """
    query = np.arange(tokens)[:, None]
    key = np.arange(tokens)[None, :]
    allowed = key <= query
    if window is not None:
        allowed &= key > query - window
    return allowed


def _project_heads(x: np.ndarray, weight: np.ndarray, head_dim: int) -> np.ndarray:
    """x @ W.T split into heads: [tokens, heads, head_dim]."""
    return np.asarray(x @ weight.T, np.float32).reshape(x.shape[0], -1, head_dim)


def text_attention(
    x: np.ndarray, w: Tensors, prefix: str, tc: dict[str, Any], *, sliding: bool, window: int | None
) -> np.ndarray:
    """Gemma 3 self-attention: q/k RMSNorm per head before RoPE, GQA, causal (+ window) mask."""
    head_dim, eps = int(tc["head_dim"]), float(tc["rms_norm_eps"])
    q = _project_heads(x, w[f"{prefix}.q_proj.weight"], head_dim)
    k = _project_heads(x, w[f"{prefix}.k_proj.weight"], head_dim)
    v = _project_heads(x, w[f"{prefix}.v_proj.weight"], head_dim)
    q = rms_norm(q, w[f"{prefix}.q_norm.weight"], eps)
    k = rms_norm(k, w[f"{prefix}.k_norm.weight"], eps)
    base, factor = rope_settings(tc, sliding)
    q, k = apply_rope(q, base, factor), apply_rope(k, base, factor)
    group = q.shape[1] // k.shape[1]  # query head h reads kv head h // group
    k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    scale = float(tc.get("query_pre_attn_scalar", head_dim)) ** -0.5
    scores = np.einsum("qhd,khd->hqk", q, k).astype(np.float32) * np.float32(scale)
    cap = tc.get("attn_logit_softcapping")
    if cap is not None:
        scores = np.tanh(scores / cap) * cap
    scores = np.where(attention_mask(x.shape[0], window)[None], scores, -np.inf)
    mixed = np.einsum("hqk,khd->qhd", softmax(scores), v).reshape(x.shape[0], -1)
    return np.asarray(mixed @ w[f"{prefix}.o_proj.weight"].T, np.float32)


def text_mlp(x: np.ndarray, w: Tensors, prefix: str) -> np.ndarray:
    """down(gelu_tanh(gate(x)) * up(x))."""
    gate = gelu_tanh(x @ w[f"{prefix}.gate_proj.weight"].T)
    up = x @ w[f"{prefix}.up_proj.weight"].T
    return np.asarray((gate * up) @ w[f"{prefix}.down_proj.weight"].T, np.float32)


def text_layer(
    x: np.ndarray, w: Tensors, layer: int, tc: dict[str, Any], apply_sliding_window: bool
) -> np.ndarray:
    """One decoder layer: sandwich norms around attention and around the MLP."""
    p, eps = f"text.layers.{layer}", float(tc["rms_norm_eps"])
    sliding = layer_is_sliding(tc, layer)
    window = int(tc["sliding_window"]) if sliding and apply_sliding_window else None
    normed = rms_norm(x, w[f"{p}.input_layernorm.weight"], eps)
    attn = text_attention(normed, w, f"{p}.self_attn", tc, sliding=sliding, window=window)
    h = x + rms_norm(attn, w[f"{p}.post_attention_layernorm.weight"], eps)
    mlp = text_mlp(rms_norm(h, w[f"{p}.pre_feedforward_layernorm.weight"], eps), w, f"{p}.mlp")
    return np.asarray(
        h + rms_norm(mlp, w[f"{p}.post_feedforward_layernorm.weight"], eps), np.float32
    )


def text_logits(
    tensors: Tensors,
    config: dict[str, Any],
    token_ids: list[int],
    *,
    apply_sliding_window: bool = True,
) -> np.ndarray:
    """Logits [len(token_ids), vocab rows] of the language model for one sequence from position 0.

    `apply_sliding_window=False` drops the window of sliding layers (their RoPE stays local),
    only so that tests can show the window changes the result.
    """
    w = _canonical_tensors(tensors)
    tc = _text_config(config)
    embed = w["text.embed_tokens.weight"]
    # transformers casts sqrt(hidden) to the weights' dtype; exact for the tiny model (8.0).
    x = embed[np.asarray(token_ids)] * np.float32(math.sqrt(int(tc["hidden_size"])))
    for layer in range(int(tc["num_hidden_layers"])):
        x = text_layer(x, w, layer, tc, apply_sliding_window)
    x = rms_norm(x, w["text.norm.weight"], float(tc["rms_norm_eps"]))
    logits = x @ w.get("lm_head.weight", embed).T
    cap = tc.get("final_logit_softcapping")
    if cap is not None:
        logits = np.tanh(logits / cap) * cap
    return np.asarray(logits, np.float32)


# --- vision tower and projector ---------------------------------------------------------------


def patch_embeddings(pixels: np.ndarray, w: Tensors, patch: int) -> np.ndarray:
    """The stride-`patch` convolution as a matrix product, patches in row-major order."""
    channels, height, width = pixels.shape
    rows, cols = height // patch, width // patch
    grid = pixels[:, : rows * patch, : cols * patch].reshape(channels, rows, patch, cols, patch)
    flat = grid.transpose(1, 3, 0, 2, 4).reshape(rows * cols, channels * patch * patch)
    kernel = w["vision.embeddings.patch_embedding.weight"]
    out = flat @ kernel.reshape(kernel.shape[0], -1).T + w["vision.embeddings.patch_embedding.bias"]
    return np.asarray(out + w["vision.embeddings.position_embedding.weight"], np.float32)


def _linear(x: np.ndarray, w: Tensors, prefix: str) -> np.ndarray:
    """A biased nn.Linear."""
    return np.asarray(x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"], np.float32)


def vision_attention(x: np.ndarray, w: Tensors, prefix: str, heads: int) -> np.ndarray:
    """SigLIP attention: biased projections, scale head_dim**-0.5, every patch sees every patch."""
    head_dim = x.shape[1] // heads
    q, k, v = (
        _linear(x, w, f"{prefix}.{n}_proj").reshape(x.shape[0], heads, head_dim)
        for n in ("q", "k", "v")
    )
    scores = np.einsum("qhd,khd->hqk", q, k).astype(np.float32) * np.float32(head_dim**-0.5)
    mixed = np.einsum("hqk,khd->qhd", softmax(scores), v).reshape(x.shape[0], -1)
    return _linear(mixed, w, f"{prefix}.out_proj")


def vision_layer(x: np.ndarray, w: Tensors, layer: int, vc: dict[str, Any]) -> np.ndarray:
    """One pre-norm SigLIP encoder layer."""
    p, eps = f"vision.encoder.layers.{layer}", float(vc.get("layer_norm_eps", 1e-6))
    normed = layer_norm(x, w[f"{p}.layer_norm1.weight"], w[f"{p}.layer_norm1.bias"], eps)
    x = x + vision_attention(normed, w, f"{p}.self_attn", int(vc["num_attention_heads"]))
    normed = layer_norm(x, w[f"{p}.layer_norm2.weight"], w[f"{p}.layer_norm2.bias"], eps)
    if vc.get("hidden_act", "gelu_pytorch_tanh") != "gelu_pytorch_tanh":
        raise NotImplementedError(f"vision activation {vc['hidden_act']!r}")
    return np.asarray(
        x + _linear(gelu_tanh(_linear(normed, w, f"{p}.mlp.fc1")), w, f"{p}.mlp.fc2"), np.float32
    )


def project(features: np.ndarray, w: Tensors, tokens: int, eps: float) -> np.ndarray:
    """Gemma3MultiModalProjector: average-pool the patch grid, RMSNorm (1+w), project to text."""
    side = math.isqrt(features.shape[0])
    per_side = math.isqrt(tokens)
    kernel = side // per_side
    grid = features.reshape(side, side, -1)[: per_side * kernel, : per_side * kernel]
    pooled = grid.reshape(per_side, kernel, per_side, kernel, -1).mean(axis=(1, 3))
    normed = rms_norm(pooled.reshape(tokens, -1), w["mm.mm_soft_emb_norm.weight"], eps)
    return np.asarray(normed @ w["mm.mm_input_projection_weight"], np.float32)


def image_embeddings(tensors: Tensors, config: dict[str, Any], pixels: np.ndarray) -> np.ndarray:
    """What one normalized image [3, H, W] becomes in the text model: [mm tokens, text hidden]."""
    w = _canonical_tensors(tensors)
    vc = config["vision_config"]
    image = np.asarray(pixels, np.float32)
    image = image[0] if image.ndim == 4 else image
    x = patch_embeddings(image, w, int(vc["patch_size"]))
    for layer in range(int(vc["num_hidden_layers"])):
        x = vision_layer(x, w, layer, vc)
    eps = float(vc.get("layer_norm_eps", 1e-6))
    x = layer_norm(x, w["vision.post_layernorm.weight"], w["vision.post_layernorm.bias"], eps)
    # The projector's RMSNorm takes the *vision* config's layer_norm_eps, as transformers does.
    return project(x, w, int(config.get("mm_tokens_per_image", 256)), eps)


def image_processor_settings(config_folder: Path) -> dict[str, Any]:
    """Image processor settings: preprocessor_config.json (transformers 4) or
    processor_config.json's "image_processor" (transformers 5)."""
    old = config_folder / "preprocessor_config.json"
    if old.exists():
        settings: dict[str, Any] = json.loads(old.read_text())
        return settings
    processor = json.loads((config_folder / "processor_config.json").read_text())
    settings = processor["image_processor"]
    return settings


def preprocess(image_rgb_uint8: np.ndarray, config_folder: Path) -> np.ndarray:
    """[H, W, 3] uint8 -> normalized [3, size, size] float32, as Gemma3ImageProcessor does.

    Resizing uses Pillow's BILINEAR filter on the uint8 image (the slow processor's path, which
    also antialiases when shrinking); then x * rescale_factor, then (x - mean) / std.
    """
    from PIL import Image

    settings = image_processor_settings(config_folder)
    size = settings["size"]
    image = Image.fromarray(np.asarray(image_rgb_uint8, np.uint8), mode="RGB")
    resized = image.resize((int(size["width"]), int(size["height"])), Image.Resampling.BILINEAR)
    values = np.asarray(resized, np.float32) * np.float32(settings.get("rescale_factor", 1 / 255))
    mean = np.asarray(settings["image_mean"], np.float32)
    std = np.asarray(settings["image_std"], np.float32)
    return np.ascontiguousarray(((values - mean) / std).transpose(2, 0, 1), np.float32)


# --- LoRA -------------------------------------------------------------------------------------


def merged_lora(tensors: Tensors, lora_folder: Path) -> Tensors:
    """The base weights with a PEFT adapter merged: W + (alpha / r) * B @ A, same keys as given."""
    config = json.loads((lora_folder / "adapter_config.json").read_text())
    scale = float(config["lora_alpha"]) / float(config["r"])
    adapter = read_tensors(lora_folder)
    by_canonical = {canonical(name): name for name in tensors}
    merged = dict(tensors)
    for key, a in adapter.items():
        if not key.endswith(".lora_A.weight"):
            continue
        stem = key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
        b = adapter[key.replace(".lora_A.", ".lora_B.")]
        target = by_canonical[canonical(f"{stem}.weight")]
        merged[target] = np.asarray(tensors[target] + scale * (b @ a), np.float32)
    return merged


# --- self-test --------------------------------------------------------------------------------


def _check_text(old: Path, new: Path, ids: list[int]) -> float:
    """Layouts and dialects agree, causality holds, the window matters; returns its effect."""
    config4 = json.loads((old / "config.json").read_text())
    config5 = json.loads((new / "config.json").read_text())
    logits = text_logits(read_tensors(old), config4, ids)
    assert logits.shape[0] == len(ids) and np.isfinite(logits).all()
    np.testing.assert_array_equal(logits, text_logits(read_tensors(new), config5, ids))
    short = text_logits(read_tensors(old), config4, ids[:5])
    np.testing.assert_allclose(short, logits[:5], rtol=1e-4, atol=1e-5)
    window = int(config4["text_config"]["sliding_window"])
    assert len(ids) > 2 * window, len(ids)
    unwindowed = text_logits(read_tensors(old), config4, ids, apply_sliding_window=False)
    np.testing.assert_allclose(unwindowed[:window], logits[:window], rtol=1e-5, atol=1e-6)
    gap = float(np.abs(unwindowed[window:] - logits[window:]).max())
    assert gap > 1e-4, f"the sliding window changed nothing ({gap})"
    return gap


def _check_vision_pieces(w: Tensors, pixels: np.ndarray, patch: int) -> None:
    """The reshaped convolution and the pooling against plain loops."""
    embedded = patch_embeddings(pixels, w, patch)
    kernel, side = w["vision.embeddings.patch_embedding.weight"], pixels.shape[1] // patch
    for row, col in ((0, 0), (1, 3), (3, 2)):
        window = pixels[:, row * patch : (row + 1) * patch, col * patch : (col + 1) * patch]
        expect = np.einsum("ocij,cij->o", kernel, window)
        expect += w["vision.embeddings.patch_embedding.bias"]
        expect += w["vision.embeddings.position_embedding.weight"][row * side + col]
        np.testing.assert_allclose(embedded[row * side + col], expect, rtol=1e-4, atol=1e-5)
    width = embedded.shape[1]
    plain: Tensors = {
        "mm.mm_soft_emb_norm.weight": np.zeros(width, np.float32),
        "mm.mm_input_projection_weight": np.eye(width, dtype=np.float32),
    }
    pooled = project(embedded, plain, 4, 1e-6)
    corner = embedded[[2, 3, side + 2, side + 3]].mean(axis=0)  # token row 0, col 1
    np.testing.assert_allclose(
        pooled[1], rms_norm(corner, plain["mm.mm_soft_emb_norm.weight"], 1e-6), rtol=1e-5, atol=1e-6
    )


def _check_images(old: Path, new: Path) -> tuple[int, ...]:
    """Preprocessing reads both dialects; embeddings have the promised shape in both layouts."""
    image = np.random.default_rng(0).integers(0, 256, size=(90, 70, 3), dtype=np.uint8)
    pixels = preprocess(image, old)
    np.testing.assert_array_equal(pixels, preprocess(image, new))
    assert pixels.shape == (3, 56, 56) and pixels.min() >= -1.0 and pixels.max() <= 1.0
    grey = preprocess(np.full((30, 40, 3), 51, np.uint8), old)
    np.testing.assert_allclose(grey, (51 / 255 - 0.5) / 0.5, rtol=1e-6)
    config4 = json.loads((old / "config.json").read_text())
    config5 = json.loads((new / "config.json").read_text())
    embedded = image_embeddings(read_tensors(old), config4, pixels)
    assert embedded.shape == (4, 64), embedded.shape
    np.testing.assert_array_equal(embedded, image_embeddings(read_tensors(new), config5, pixels))
    _check_vision_pieces(_canonical_tensors(read_tensors(old)), pixels, 14)
    return tuple(embedded.shape)


def _check_lora(root: Path, old: Path, new: Path, ids: list[int]) -> None:
    """Merging touches exactly the targeted weights, in either layout, and changes the logits."""
    from tests.support import hf_checkpoint as hf

    lora = hf.write_lora(root / "lora", old)
    base = read_tensors(new)
    merged = merged_lora(base, lora)
    changed = [k for k in merged if not np.array_equal(merged[k], base[k])]
    assert len(changed) == len(hf.LORA_TARGETS) * hf.TinySpec().layers, changed
    adapter = read_tensors(lora)
    stem = "base_model.model.language_model.model.layers.1.mlp.down_proj"
    delta = 2.0 * adapter[f"{stem}.lora_B.weight"] @ adapter[f"{stem}.lora_A.weight"]
    name = "model.language_model.layers.1.mlp.down_proj.weight"
    np.testing.assert_allclose(merged[name] - base[name], delta, rtol=1e-4, atol=1e-7)
    config = json.loads((new / "config.json").read_text())
    assert not np.allclose(text_logits(merged, config, ids), text_logits(base, config, ids))


def _self_test(root: Path) -> None:
    """Run every check on both layouts and both config dialects."""
    from tests.support import hf_checkpoint as hf

    old = hf.write_checkpoint(root / "old", layout="old")
    new = hf.write_checkpoint(root / "new", layout="new", transformers5=True, shards=3)
    text = "Sinus rhythm at 72 beats per minute, QRS normal."
    ids = [hf.SPECIAL_IDS["<bos>"], *hf.tokenizer().encode(text)]
    gap = _check_text(old, new, ids)
    shape = _check_images(old, new)
    _check_lora(root, old, new, ids)
    print(
        f"gemma3_reference self-test passed: {len(ids)} tokens, window effect {gap:.3g}, "
        f"image {shape}"
    )


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        _self_test(Path(scratch))
