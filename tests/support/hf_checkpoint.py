"""A tiny random Gemma 3 checkpoint laid out as transformers saves `Gemma3ForConditionalGeneration`.

Tests of the Hugging Face -> GGUF importer need real-shaped input without downloading gigabytes:
this module writes config, tokenizer (a freshly trained SentencePiece model), processor files and
safetensors shards in either the transformers < 4.52 ("old") or >= 4.52 ("new") tensor naming, and
in the transformers 4 or 5 config dialect. `gemma3_reference` computes what the model must output.

Run `python -m tests.support.hf_checkpoint` from the repository root for a self-test.
"""

from __future__ import annotations

import functools
import io
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import sentencepiece as spm

Tensors = dict[str, np.ndarray]

# The ids are fixed by the trainer options below (pad/eos/bos/unk) and by SentencePiece placing
# user-defined symbols right after them, in order; `_tokenizer_model` checks this after training.
SPECIAL_IDS: Final[dict[str, int]] = {
    "<pad>": 0,
    "<eos>": 1,
    "<bos>": 2,
    "<unk>": 3,
    "<start_of_turn>": 4,
    "<end_of_turn>": 5,
    "<start_of_image>": 6,
    "<end_of_image>": 7,
    "<image_soft_token>": 8,
}
_USER_SYMBOLS: Final = [name for name, index in SPECIAL_IDS.items() if index > 3]
TOKENIZER_VOCAB: Final = 400  # 256 byte pieces + 9 specials + characters + merges

# Gemma 3's chat format (the system turn folded into the first user turn, "assistant" spelled
# "model", image parts as <start_of_image>, text parts trimmed): the same template the quiet
# test pair carries, so there is one Gemma 3 template in the tests.
CHAT_TEMPLATE: Final = (Path(__file__).with_name("gemma3_chat_template.jinja")).read_text(
    encoding="utf-8"
)


@dataclass(frozen=True)
class TinySpec:
    """Sizes of the tiny model; the defaults make every shape distinct where it can."""

    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 16
    ffn: int = 128
    sliding_window: int = 8
    sliding_window_pattern: int = 2  # layer 0 sliding, layer 1 global
    rope_theta: float = 1_000_000.0
    rope_local_base_freq: float = 10_000.0
    rope_linear_factor: float = 8.0
    rms_eps: float = 1e-6
    max_position: int = 4096
    vocab_pad: int = 0  # extra embedding rows beyond the tokenizer
    v_hidden: int = 32
    v_layers: int = 2
    v_heads: int = 2
    v_ffn: int = 64
    image_size: int = 56
    patch: int = 14
    mm_tokens_per_image: int = 4  # 4x4 patches pooled by 2 -> 2x2 tokens
    seed: int = 0

    @property
    def n_patches(self) -> int:
        """Patches per image: the rows of the position embedding."""
        return (self.image_size // self.patch) ** 2

    @property
    def vocab_rows(self) -> int:
        """Embedding rows: the tokenizer plus any padding rows (real Gemma pads too)."""
        return tokenizer_size() + self.vocab_pad

    def layer_is_sliding(self, layer: int) -> bool:
        """transformers 4's rule: every `sliding_window_pattern`-th layer is global."""
        return (layer + 1) % self.sliding_window_pattern != 0


# --- tokenizer --------------------------------------------------------------------------------

_SUBJECTS: Final = [
    "the rhythm",
    "the patient",
    "this tracing",
    "the QRS complex",
    "the P wave",
    "the T wave",
    "the ST segment",
    "lead II",
    "lead V1",
    "the axis",
    "the PR interval",
    "the QT interval",
    "the heart",
    "the report",
    "a doctor",
    "the nurse",
    "the monitor",
    "the ventricle",
]
_VERBS: Final = [
    "shows",
    "suggests",
    "is",
    "looks",
    "remains",
    "appears",
    "seems",
    "becomes",
    "indicates",
]
_OBJECTS: Final = [
    "normal sinus rhythm",
    "atrial fibrillation",
    "a left bundle branch block",
    "sinus tachycardia",
    "sinus bradycardia",
    "ST elevation in the inferior leads",
    "T wave inversion",
    "a prolonged QT",
    "first degree AV block",
    "left ventricular hypertrophy",
    "right axis deviation",
    "normal",
    "premature ventricular complexes",
    "an old anterior infarct",
    "low voltage",
    "regular",
    "a good quality scan",
    "hard to read",
    "within normal limits",
    "atrial flutter",
]
_GENERAL: Final = [
    "Please describe the image in plain words.",
    "What do you see in this electrocardiogram?",
    "The quick brown fox jumps over the lazy dog.",
    "Read the twelve leads from left to right, then top to bottom.",
    "Compare it with the previous tracing, if there is one.",
    "Answer briefly and say when you are not sure.",
    "Paper speed is 25 mm/s and the gain is 10 mm/mV.",
    "Heart rate: 72 bpm; PR 160 ms; QRS 90 ms; QTc 420 ms.",
]


def corpus_lines(count: int = 400) -> list[str]:
    """Deterministic English/cardiology sentences, enough to train a small vocabulary."""
    rng = np.random.default_rng(1234)
    lines = list(_GENERAL)
    while len(lines) < count:
        subject = str(rng.choice(_SUBJECTS))
        sentence = f"{subject} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
        if rng.random() < 0.4:
            sentence += f" at {int(rng.integers(30, 200))} beats per minute"
        lines.append(sentence[0].upper() + sentence[1:] + str(rng.choice([".", "!", "?", "."])))
    return lines


@functools.cache
def _tokenizer_model() -> bytes:
    """Train once per process; options mirror Gemma's tokenizer (no dummy prefix, byte fallback)."""
    sink = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines()),
        model_writer=sink,
        model_type="bpe",
        vocab_size=TOKENIZER_VOCAB,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        normalization_rule_name="identity",
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        pad_piece="<pad>",
        eos_piece="<eos>",
        bos_piece="<bos>",
        unk_piece="<unk>",
        user_defined_symbols=_USER_SYMBOLS,
        num_threads=1,
        minloglevel=2,
    )
    model = sink.getvalue()
    sp = spm.SentencePieceProcessor(model_proto=model)
    found = {name: sp.piece_to_id(name) for name in SPECIAL_IDS}
    if found != SPECIAL_IDS:
        raise RuntimeError(f"SentencePiece placed the special tokens at {found}")
    return model


def tokenizer() -> spm.SentencePieceProcessor:
    """The trained tokenizer, for tests that need to encode prompts."""
    return spm.SentencePieceProcessor(model_proto=_tokenizer_model())


def tokenizer_size() -> int:
    """Pieces in the trained tokenizer (the embedding has at least this many rows)."""
    return int(tokenizer().get_piece_size())


# --- config and side files --------------------------------------------------------------------


def _rope_config(spec: TinySpec, transformers5: bool) -> dict[str, Any]:
    """RoPE and layer-type settings: transformers 5 keys them by layer type."""
    if transformers5:
        kinds = [
            "sliding_attention" if spec.layer_is_sliding(i) else "full_attention"
            for i in range(spec.layers)
        ]
        full = {
            "rope_type": "linear",
            "factor": spec.rope_linear_factor,
            "rope_theta": spec.rope_theta,
        }
        local = {"rope_type": "default", "rope_theta": spec.rope_local_base_freq}
        return {
            "layer_types": kinds,
            "rope_parameters": {"full_attention": full, "sliding_attention": local},
        }
    return {
        "rope_theta": spec.rope_theta,
        "rope_local_base_freq": spec.rope_local_base_freq,
        "rope_scaling": {"rope_type": "linear", "factor": spec.rope_linear_factor},
        "sliding_window_pattern": spec.sliding_window_pattern,
    }


def _text_config(spec: TinySpec, transformers5: bool) -> dict[str, Any]:
    """`text_config` of config.json."""
    return {
        "model_type": "gemma3_text",
        "hidden_size": spec.hidden,
        "intermediate_size": spec.ffn,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.kv_heads,
        "head_dim": spec.head_dim,
        "rms_norm_eps": spec.rms_eps,
        "max_position_embeddings": spec.max_position,
        "vocab_size": spec.vocab_rows,
        "sliding_window": spec.sliding_window,
        "query_pre_attn_scalar": spec.head_dim,
        "hidden_activation": "gelu_pytorch_tanh",
        "final_logit_softcapping": None,
        "attn_logit_softcapping": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "use_cache": True,
        "pad_token_id": SPECIAL_IDS["<pad>"],
        "bos_token_id": SPECIAL_IDS["<bos>"],
        "eos_token_id": SPECIAL_IDS["<eos>"],
        **_rope_config(spec, transformers5),
    }


def _vision_config(spec: TinySpec) -> dict[str, Any]:
    """`vision_config` of config.json (SigLIP without its pooling head, as Gemma 3 uses it)."""
    return {
        "model_type": "siglip_vision_model",
        "hidden_size": spec.v_hidden,
        "intermediate_size": spec.v_ffn,
        "num_hidden_layers": spec.v_layers,
        "num_attention_heads": spec.v_heads,
        "image_size": spec.image_size,
        "patch_size": spec.patch,
        "layer_norm_eps": 1e-6,
        "num_channels": 3,
        "hidden_act": "gelu_pytorch_tanh",
        "attention_dropout": 0.0,
        "vision_use_head": False,
    }


def model_config(spec: TinySpec = TinySpec(), *, transformers5: bool = False) -> dict[str, Any]:
    """The whole config.json as a dict."""
    return {
        "architectures": ["Gemma3ForConditionalGeneration"],
        "model_type": "gemma3",
        "text_config": _text_config(spec, transformers5),
        "vision_config": _vision_config(spec),
        "mm_tokens_per_image": spec.mm_tokens_per_image,
        "boi_token_index": SPECIAL_IDS["<start_of_image>"],
        "eoi_token_index": SPECIAL_IDS["<end_of_image>"],
        "image_token_index": SPECIAL_IDS["<image_soft_token>"],
        "eos_token_id": [SPECIAL_IDS["<eos>"], SPECIAL_IDS["<end_of_turn>"]],
        "initializer_range": 0.02,
        "dtype" if transformers5 else "torch_dtype": "bfloat16",
        "transformers_version": "5.0.0" if transformers5 else "4.50.0",
    }


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _image_processor(spec: TinySpec) -> dict[str, Any]:
    """Gemma3ImageProcessor's settings: plain resize to a square, then (x/255 - 0.5) / 0.5."""
    return {
        "image_processor_type": "Gemma3ImageProcessor",
        "do_convert_rgb": None,
        "do_resize": True,
        "resample": 2,  # PIL bilinear
        "size": {"height": spec.image_size, "width": spec.image_size},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "do_pan_and_scan": None,
        "image_seq_length": spec.mm_tokens_per_image,
    }


def _tokenizer_config(transformers5: bool) -> dict[str, Any]:
    """tokenizer_config.json; transformers 4 keeps the added tokens and the template here."""
    config: dict[str, Any] = {
        "tokenizer_class": "GemmaTokenizer",
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "boi_token": "<start_of_image>",
        "eoi_token": "<end_of_image>",
        "image_token": "<image_soft_token>",
        "clean_up_tokenization_spaces": False,
        "spaces_between_special_tokens": False,
        "processor_class": "Gemma3Processor",
    }
    if not transformers5:
        config["added_tokens_decoder"] = {
            str(index): {
                "content": name,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for name, index in SPECIAL_IDS.items()
        }
        config["chat_template"] = CHAT_TEMPLATE
    return config


def _special_tokens_map() -> dict[str, Any]:
    """special_tokens_map.json (transformers 4 only)."""

    def token(name: str) -> dict[str, Any]:
        return {
            "content": name,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
        }

    return {
        "bos_token": token("<bos>"),
        "eos_token": token("<eos>"),
        "pad_token": token("<pad>"),
        "unk_token": token("<unk>"),
        "boi_token": "<start_of_image>",
        "eoi_token": "<end_of_image>",
        "image_token": "<image_soft_token>",
    }


def _tokenizer_json() -> dict[str, Any]:
    """A minimal tokenizer.json: enough for an importer to find special tokens by id."""
    sp = tokenizer()
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    added = [
        {
            "id": index,
            "content": name,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for name, index in SPECIAL_IDS.items()
    ]
    return {
        "version": "1.0",
        "added_tokens": added,
        "model": {"type": "BPE", "byte_fallback": True, "vocab": vocab, "merges": []},
    }


def _generation_config() -> dict[str, Any]:
    """generation_config.json as Gemma 3 instruction-tuned models ship it."""
    return {
        "bos_token_id": SPECIAL_IDS["<bos>"],
        "pad_token_id": SPECIAL_IDS["<pad>"],
        "eos_token_id": [SPECIAL_IDS["<eos>"], SPECIAL_IDS["<end_of_turn>"]],
        "cache_implementation": "hybrid",
        "do_sample": True,
        "top_k": 64,
        "top_p": 0.95,
    }


def _write_side_files(
    folder: Path, spec: TinySpec, transformers5: bool, tokenizer_json: bool
) -> None:
    """Everything but the weights."""
    _write_json(folder / "config.json", model_config(spec, transformers5=transformers5))
    _write_json(folder / "generation_config.json", _generation_config())
    (folder / "tokenizer.model").write_bytes(_tokenizer_model())
    _write_json(folder / "tokenizer_config.json", _tokenizer_config(transformers5))
    if transformers5:
        processor = {
            "image_processor": _image_processor(spec),
            "processor_class": "Gemma3Processor",
            "image_seq_length": spec.mm_tokens_per_image,
        }
        _write_json(folder / "processor_config.json", processor)
        (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")
    else:
        _write_json(
            folder / "preprocessor_config.json",
            {**_image_processor(spec), "processor_class": "Gemma3Processor"},
        )
        _write_json(folder / "special_tokens_map.json", _special_tokens_map())
    if tokenizer_json:
        _write_json(folder / "tokenizer.json", _tokenizer_json())


# --- random weights ---------------------------------------------------------------------------


class _Init:
    """Draws weights of the kinds Gemma 3 has, from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def matrix(self, *shape: int) -> np.ndarray:
        return (self.rng.standard_normal(shape) * 0.02).astype(np.float32)

    def gemma_norm(self, size: int) -> np.ndarray:
        """Around 0: Gemma's RMSNorm multiplies by (1 + w)."""
        return (self.rng.standard_normal(size) * 0.1).astype(np.float32)

    def layer_norm(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """SigLIP LayerNorm weight around 1, bias small."""
        weight = 1.0 + self.rng.standard_normal(size) * 0.1
        return weight.astype(np.float32), (self.rng.standard_normal(size) * 0.02).astype(np.float32)


def _text_layer(init: _Init, spec: TinySpec, prefix: str) -> Tensors:
    """One decoder layer, named as in the old layout below `prefix`."""
    q_out, kv_out = spec.heads * spec.head_dim, spec.kv_heads * spec.head_dim
    out = {
        f"{prefix}.{norm}.weight": init.gemma_norm(spec.hidden)
        for norm in (
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        )
    }
    out[f"{prefix}.self_attn.q_proj.weight"] = init.matrix(q_out, spec.hidden)
    out[f"{prefix}.self_attn.k_proj.weight"] = init.matrix(kv_out, spec.hidden)
    out[f"{prefix}.self_attn.v_proj.weight"] = init.matrix(kv_out, spec.hidden)
    out[f"{prefix}.self_attn.o_proj.weight"] = init.matrix(spec.hidden, q_out)
    out[f"{prefix}.self_attn.q_norm.weight"] = init.gemma_norm(spec.head_dim)
    out[f"{prefix}.self_attn.k_norm.weight"] = init.gemma_norm(spec.head_dim)
    out[f"{prefix}.mlp.gate_proj.weight"] = init.matrix(spec.ffn, spec.hidden)
    out[f"{prefix}.mlp.up_proj.weight"] = init.matrix(spec.ffn, spec.hidden)
    out[f"{prefix}.mlp.down_proj.weight"] = init.matrix(spec.hidden, spec.ffn)
    return out


def _vision_layer(init: _Init, spec: TinySpec, prefix: str) -> Tensors:
    """One SigLIP encoder layer (biased projections, LayerNorm with bias)."""
    out: Tensors = {}
    for norm in ("layer_norm1", "layer_norm2"):
        out[f"{prefix}.{norm}.weight"], out[f"{prefix}.{norm}.bias"] = init.layer_norm(
            spec.v_hidden
        )
    shapes = {
        "self_attn.q_proj": (spec.v_hidden, spec.v_hidden),
        "self_attn.k_proj": (spec.v_hidden, spec.v_hidden),
        "self_attn.v_proj": (spec.v_hidden, spec.v_hidden),
        "self_attn.out_proj": (spec.v_hidden, spec.v_hidden),
        "mlp.fc1": (spec.v_ffn, spec.v_hidden),
        "mlp.fc2": (spec.v_hidden, spec.v_ffn),
    }
    for name, shape in shapes.items():
        out[f"{prefix}.{name}.weight"] = init.matrix(*shape)
        out[f"{prefix}.{name}.bias"] = init.matrix(shape[0])
    return out


def _vision_tensors(init: _Init, spec: TinySpec) -> Tensors:
    """SigLIP tower and the Gemma 3 projector, old-layout names."""
    base = "vision_tower.vision_model"
    out = {
        f"{base}.embeddings.patch_embedding.weight": init.matrix(
            spec.v_hidden, 3, spec.patch, spec.patch
        ),
        f"{base}.embeddings.patch_embedding.bias": init.matrix(spec.v_hidden),
        f"{base}.embeddings.position_embedding.weight": init.matrix(spec.n_patches, spec.v_hidden),
    }
    for i in range(spec.v_layers):
        out.update(_vision_layer(init, spec, f"{base}.encoder.layers.{i}"))
    out[f"{base}.post_layernorm.weight"], out[f"{base}.post_layernorm.bias"] = init.layer_norm(
        spec.v_hidden
    )
    # Stored [vision, text] and without a ".weight" suffix: it is a bare nn.Parameter.
    out["multi_modal_projector.mm_input_projection_weight"] = init.matrix(
        spec.v_hidden, spec.hidden
    )
    out["multi_modal_projector.mm_soft_emb_norm.weight"] = init.gemma_norm(spec.v_hidden)
    return out


def random_tensors(spec: TinySpec = TinySpec()) -> Tensors:
    """All weights in float32 with old-layout names (transformers < 4.52)."""
    init = _Init(spec.seed)
    out = {"language_model.model.embed_tokens.weight": init.matrix(spec.vocab_rows, spec.hidden)}
    for i in range(spec.layers):
        out.update(_text_layer(init, spec, f"language_model.model.layers.{i}"))
    out["language_model.model.norm.weight"] = init.gemma_norm(spec.hidden)
    out.update(_vision_tensors(init, spec))
    return out


_NEW_PREFIXES: Final = (
    ("language_model.model.", "model.language_model."),
    ("vision_tower.", "model.vision_tower."),
    ("multi_modal_projector.", "model.multi_modal_projector."),
)


def rename(name: str, layout: str) -> str:
    """An old-layout name in `layout` ("old" or "new")."""
    if layout == "old":
        return name
    if layout != "new":
        raise ValueError(f"layout must be 'old' or 'new', not {layout!r}")
    for old, new in _NEW_PREFIXES:
        if name.startswith(old):
            return new + name[len(old) :]
    return name


def _in_layout(tensors: Tensors, layout: str) -> Tensors:
    """Rename for `layout`; the new layout also stores the tied lm_head."""
    out = {rename(name, layout): value for name, value in tensors.items()}
    if layout == "new":
        out["lm_head.weight"] = tensors["language_model.model.embed_tokens.weight"]
    return out


# --- safetensors ------------------------------------------------------------------------------

_DTYPES: Final = {"bf16": "BF16", "f16": "F16", "f32": "F32"}


def _to_bf16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, rounding to nearest even as torch does."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    return ((bits + rounding) >> 16).astype(np.uint16)


def _encode(values: np.ndarray, dtype: str) -> tuple[str, bytes]:
    """The safetensors dtype tag and little-endian bytes of `values` stored as `dtype`."""
    if dtype == "bf16":
        return "BF16", _to_bf16_bits(values).astype("<u2").tobytes()
    if dtype == "f16":
        return "F16", values.astype("<f2").tobytes()
    if dtype == "f32":
        return "F32", values.astype("<f4").tobytes()
    raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, not {dtype!r}")


def write_safetensors(path: Path, tensors: Tensors, dtype: str = "f32") -> int:
    """Write one file by hand (safetensors.numpy has no bfloat16); returns the data size.

    Format: u64 little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}
    padded with spaces to 8 bytes, then the raw tensor bytes.
    """
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        tag, blob = _encode(tensors[name], dtype)
        header[name] = {
            "dtype": tag,
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(text)))
        handle.write(text)
        for blob in blobs:
            handle.write(blob)
    return offset


def _decode(raw: bytes, tag: str, shape: list[int]) -> np.ndarray:
    """Bytes of one tensor -> float32 (bf16 is the top half of a float32)."""
    if tag == "BF16":
        values = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    elif tag == "F16":
        values = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    elif tag == "F32":
        values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    else:
        raise ValueError(f"unsupported safetensors dtype {tag}")
    return values.reshape(shape)


def read_safetensors(path: Path) -> Tensors:
    """Every tensor of one .safetensors file as float32."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = data[8 + length :]
    out: Tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = _decode(body[start:end], info["dtype"], info["shape"])
    return out


def read_tensors(folder: Path) -> Tensors:
    """All tensors of a checkpoint (or adapter) folder as float32, keyed by their stored names."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        paths = [folder / name for name in files]
    else:
        paths = sorted(folder.glob("*.safetensors"))
    if not paths:
        raise FileNotFoundError(f"no .safetensors file in {folder}")
    out: Tensors = {}
    for path in paths:
        out.update(read_safetensors(path))
    return out


def _split(names: list[str], sizes: dict[str, int], shards: int) -> Iterator[list[str]]:
    """Contiguous groups of roughly equal byte size, none empty."""
    total = sum(sizes.values())
    group: list[str] = []
    done = 0
    for position, name in enumerate(names):
        group.append(name)
        done += sizes[name]
        left_names, left_groups = len(names) - position - 1, shards - 1
        if left_groups and (done >= total / shards or left_names == left_groups):
            yield group
            group, done, shards, total = [], 0, left_groups, total - done
    yield group


def _write_weights(folder: Path, tensors: Tensors, dtype: str, shards: int) -> None:
    """model.safetensors, or `shards` files and model.safetensors.index.json."""
    if shards == 1:
        write_safetensors(folder / "model.safetensors", tensors, dtype)
        return
    if not 1 < shards <= len(tensors):
        raise ValueError(f"shards must be between 1 and {len(tensors)}")
    sizes = {name: value.size for name, value in tensors.items()}
    weight_map: dict[str, str] = {}
    total = 0
    for k, group in enumerate(_split(list(tensors), sizes, shards), start=1):
        file = f"model-{k:05d}-of-{shards:05d}.safetensors"
        total += write_safetensors(folder / file, {n: tensors[n] for n in group}, dtype)
        weight_map.update(dict.fromkeys(group, file))
    _write_json(
        folder / "model.safetensors.index.json",
        {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))},
    )


# --- public writers ---------------------------------------------------------------------------


def write_checkpoint(
    folder: Path,
    spec: TinySpec = TinySpec(),
    *,
    layout: str = "old",
    transformers5: bool = False,
    dtype: str = "bf16",
    shards: int = 2,
    tokenizer_json: bool = False,
) -> Path:
    """Write a complete tiny checkpoint into `folder` (created if needed) and return it."""
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, not {dtype!r}")
    folder.mkdir(parents=True, exist_ok=True)
    _write_side_files(folder, spec, transformers5, tokenizer_json)
    _write_weights(folder, _in_layout(random_tensors(spec), layout), dtype, shards)
    return folder


LORA_TARGETS: Final = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def lora_targets(base: Tensors) -> list[str]:
    """Old-layout names of the text model's linear weights, which the adapter modifies."""
    old_names = sorted(_to_old(name) for name in base)
    return [
        name
        for name in old_names
        if name.startswith("language_model.model.layers.")
        and name.removesuffix(".weight").rsplit(".", 1)[-1] in LORA_TARGETS
    ]


def _to_old(name: str) -> str:
    """A stored name (either layout) in old-layout spelling."""
    for old, new in _NEW_PREFIXES:
        if name.startswith(new):
            return old + name[len(new) :]
    return name


def write_lora(
    folder: Path, base: Path, *, r: int = 4, alpha: int = 8, seed: int = 1, layout: str = "old"
) -> Path:
    """Write a PEFT LoRA adapter for the checkpoint in `base`; B is not zero so merging matters.

    Keys are `base_model.model.<weight name without .weight>.lora_A.weight` with the weight
    named in `layout` (PEFT uses the model's names at training time; "old" as the brief asks).
    """
    weights = read_tensors(base)
    init = _Init(seed)
    adapter: Tensors = {}
    for name in lora_targets(weights):
        stored = weights[rename(name, "new")] if rename(name, "new") in weights else weights[name]
        out_dim, in_dim = stored.shape
        stem = "base_model.model." + rename(name, layout).removesuffix(".weight")
        adapter[f"{stem}.lora_A.weight"] = init.matrix(r, in_dim)
        adapter[f"{stem}.lora_B.weight"] = init.matrix(out_dim, r)
    folder.mkdir(parents=True, exist_ok=True)
    write_safetensors(folder / "adapter_model.safetensors", adapter, "f32")
    _write_json(
        folder / "adapter_config.json",
        {
            "peft_type": "LORA",
            "r": r,
            "lora_alpha": alpha,
            "lora_dropout": 0.0,
            "bias": "none",
            "target_modules": list(LORA_TARGETS),
            "base_model_name_or_path": str(base),
            "task_type": "CAUSAL_LM",
            "fan_in_fan_out": False,
            "use_rslora": False,
        },
    )
    return folder


# --- self-test --------------------------------------------------------------------------------


def _check_tokenizer() -> None:
    """The special ids are where SPECIAL_IDS says, and byte fallback round-trips any text."""
    sp = tokenizer()
    assert {p: sp.piece_to_id(p) for p in SPECIAL_IDS} == SPECIAL_IDS
    assert sp.encode("<start_of_turn>user\nHi")[0] == SPECIAL_IDS["<start_of_turn>"]
    assert sp.decode(sp.encode("QTc 420 ms ✓")) == "QTc 420 ms ✓"


def _check_round_trips(root: Path) -> None:
    """Both layouts and every dtype read back as written; the real library reads f16/f32."""
    from safetensors.numpy import load_file

    expected = random_tensors()
    for layout in ("old", "new"):
        for dtype, shards in (("bf16", 2), ("f16", 1), ("f32", 3)):
            folder = root / f"{layout}-{dtype}-{shards}"
            write_checkpoint(folder, layout=layout, dtype=dtype, shards=shards)
            got = read_tensors(folder)
            assert set(got) == set(_in_layout(expected, layout))
            tolerance = {"bf16": 1e-2, "f16": 1e-3, "f32": 0.0}[dtype]
            for name, value in expected.items():
                np.testing.assert_allclose(
                    got[rename(name, layout)], value, rtol=tolerance, atol=tolerance * 0.02
                )
            if dtype != "bf16":
                for path in folder.glob("*.safetensors"):
                    for name, value in load_file(str(path)).items():
                        np.testing.assert_array_equal(value.astype(np.float32), got[name])


def _check_side_files(root: Path) -> None:
    """The transformers 4 and 5 dialects put settings where each expects them."""
    old4 = write_checkpoint(root / "t4")
    new5 = write_checkpoint(root / "t5", layout="new", transformers5=True, shards=1)
    assert json.loads((old4 / "model.safetensors.index.json").read_text())["metadata"]
    assert (old4 / "special_tokens_map.json").exists()
    assert "added_tokens_decoder" in json.loads((old4 / "tokenizer_config.json").read_text())
    assert not (new5 / "special_tokens_map.json").exists()
    assert not (new5 / "preprocessor_config.json").exists()
    assert (new5 / "chat_template.jinja").read_text() == CHAT_TEMPLATE
    assert "rope_parameters" in json.loads((new5 / "config.json").read_text())["text_config"]
    lora = read_tensors(write_lora(root / "lora", new5))
    assert len(lora) == 2 * len(LORA_TARGETS) * TinySpec().layers
    assert all(k.startswith("base_model.model.language_model.model.layers.") for k in lora)
    write_checkpoint(root / "json", tokenizer_json=True, shards=1, spec=TinySpec(vocab_pad=16))
    vocab = json.loads((root / "json" / "tokenizer.json").read_text())["model"]["vocab"]
    assert vocab["<image_soft_token>"] == SPECIAL_IDS["<image_soft_token>"]
    rows = read_tensors(root / "json")["language_model.model.embed_tokens.weight"].shape[0]
    assert rows == tokenizer_size() + 16


def _check_chat_template() -> None:
    """System text joins the first user turn; images and trimmed text parts render in order."""
    import jinja2

    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " Read it. "}]},
        {"role": "assistant", "content": "Sinus rhythm."},
        {"role": "user", "content": "Sure?"},
    ]
    template = jinja2.Environment().from_string(CHAT_TEMPLATE)
    text = template.render(bos_token="<bos>", add_generation_prompt=True, messages=messages)
    assert text == (
        "<bos><start_of_turn>user\nBe brief.\n\n<start_of_image>Read it.<end_of_turn>\n"
        "<start_of_turn>model\nSinus rhythm.<end_of_turn>\n"
        "<start_of_turn>user\nSure?<end_of_turn>\n<start_of_turn>model\n"
    ), repr(text)


def _self_test(root: Path) -> None:
    """Write every variant and read it back; checks the file-level promises of this module."""
    _check_tokenizer()
    _check_round_trips(root)
    _check_side_files(root)
    _check_chat_template()
    print(f"hf_checkpoint self-test passed: {tokenizer_size()} pieces, SPECIAL_IDS={SPECIAL_IDS}")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        _self_test(Path(scratch))
