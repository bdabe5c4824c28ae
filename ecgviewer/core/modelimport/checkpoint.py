"""What a Hugging Face Gemma 3 checkpoint folder holds, read and checked before any work.

Accepts what `transformers` saves for `Gemma3ForConditionalGeneration`:

* tensor names of either layout: `language_model.model.*`, `vision_tower.*`,
  `multi_modal_projector.*` (transformers before 4.52) or `model.language_model.*`,
  `model.vision_tower.*`, `model.multi_modal_projector.*` (4.52 and later, perhaps
  with a separate `lm_head.weight`);
* transformers 4 configs (`rope_theta`, `rope_scaling`, `sliding_window_pattern`,
  `preprocessor_config.json`) and transformers 5 configs (`rope_parameters` per
  layer type, `layer_types`, image settings in `processor_config.json`).

Names are normalised to one form: `model.layers.N...`, `model.embed_tokens`,
`model.norm`, `lm_head`, `vision_tower.vision_model...`, `multi_modal_projector...`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgviewer.core.modelimport.shards import CheckpointError, TensorRef, index_tensors

_PREFIXES = (  # (prefix in the file, normalised prefix); longest first
    ("model.language_model.", "model."),
    ("language_model.model.", "model."),
    ("language_model.lm_head.", "lm_head."),
    ("model.vision_tower.", "vision_tower."),
    ("model.multi_modal_projector.", "multi_modal_projector."),
)


@dataclass(frozen=True)
class TextParams:
    """The language model's shape and attention pattern."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    rms_eps: float
    context: int
    sliding_window: int
    sliding: tuple[bool, ...]  # per layer: True = sliding-window attention
    rope_theta: float  # global layers
    rope_theta_local: float  # sliding layers
    rope_linear_factor: float  # global layers only; 1.0 = none
    final_softcap: float | None
    tied_embeddings: bool


@dataclass(frozen=True)
class VisionParams:
    """The SigLIP tower and the Gemma 3 projector's pooling and normalisation."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    image_size: int
    patch: int
    eps: float
    tokens_per_image: int
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]

    @property
    def pooling(self) -> int:
        """Patches per side pooled into one image token per side (4 for MedGemma)."""
        side = self.image_size // self.patch
        return max(1, side // max(1, round(self.tokens_per_image**0.5)))


@dataclass(frozen=True)
class Checkpoint:
    """A checked checkpoint folder: parameters, tensors (normalised names), sources."""

    folder: Path
    text: TextParams
    vision: VisionParams
    tensors: dict[str, TensorRef]
    layout: str  # "older" or "newer" tensor names
    transformers5: bool
    dtype: str  # "BF16", "F16" or "F32" (the most common)
    config: dict[str, Any]

    @property
    def size_bytes(self) -> int:
        return sum(ref.nbytes for ref in self.tensors.values())

    @property
    def shard_files(self) -> list[Path]:
        return sorted({ref.file for ref in self.tensors.values()})


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path.name} cannot be read as JSON.") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path.name} does not hold a JSON object.")
    return data


def open_checkpoint(folder: Path) -> Checkpoint:
    """Read and check `folder`; a CheckpointError says what is wrong and what to do."""
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder.")
    if not (folder / "config.json").is_file():
        raise CheckpointError(
            "The folder has no config.json: it is not a Hugging Face checkpoint.",
            hint="Choose the folder that holds config.json, the model*.safetensors files and "
            "tokenizer.model.",
        )
    config = read_json(folder / "config.json")
    _check_architecture(config)
    if not ((folder / "tokenizer.model").is_file() or (folder / "tokenizer.json").is_file()):
        raise CheckpointError(
            "The folder has no tokenizer (tokenizer.model or tokenizer.json).",
            hint="Copy the tokenizer files that were published with the model into the folder.",
        )
    raw = index_tensors(folder)
    tensors, layout = _normalise(raw)
    _check_tensors(tensors)
    try:
        text = _text_params(config["text_config"], tensors)
        vision = _vision_params(config, folder)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"config.json lacks a setting the model needs or has a wrong value ({exc}).",
            hint="Use the config.json that was published with the checkpoint.",
        ) from exc
    dtypes = [ref.dtype for ref in tensors.values()]
    dtype = max(set(dtypes), key=dtypes.count)
    v5 = "rope_parameters" in config["text_config"] or "layer_types" in config["text_config"]
    return Checkpoint(folder, text, vision, tensors, layout, v5, dtype, config)


def _check_architecture(config: dict[str, Any]) -> None:
    kind = config.get("model_type", "unknown")
    if kind == "gemma3_text" or (kind == "gemma3" and "vision_config" not in config):
        raise CheckpointError(
            "This is a text-only Gemma 3 checkpoint: it has no vision tower, so it cannot read "
            "ECG images.",
            hint="Import the vision-language checkpoint (Gemma3ForConditionalGeneration), "
            "such as MedGemma-4B-ECGInstruct.",
        )
    if kind != "gemma3" or "text_config" not in config:
        raise CheckpointError(
            f"This is a {kind} checkpoint; ECG Viewer imports Gemma 3 vision-language "
            "checkpoints (MedGemma-4B-ECGInstruct and its relatives).",
        )


def _normalise(raw: dict[str, TensorRef]) -> tuple[dict[str, TensorRef], str]:
    tensors: dict[str, TensorRef] = {}
    newer = any(name.startswith("model.language_model.") for name in raw)
    for name, ref in raw.items():
        tensors[normal_name(name)] = ref
    return tensors, "newer" if newer else "older"


def normal_name(name: str) -> str:
    """One spelling for both layouts (see the module docstring)."""
    for prefix, replacement in _PREFIXES:
        if name.startswith(prefix):
            return replacement + name[len(prefix) :]
    return name


def _check_tensors(tensors: dict[str, TensorRef]) -> None:
    if "model.embed_tokens.weight" not in tensors:
        raise CheckpointError("The checkpoint has no Gemma 3 language model tensors.")
    if not any(name.startswith("vision_tower.vision_model.") for name in tensors):
        raise CheckpointError(
            "The checkpoint has no vision tower tensors: it cannot read images.",
            hint="Import the vision-language checkpoint, not a text-only export.",
        )
    if not any(name.startswith("multi_modal_projector.") for name in tensors):
        raise CheckpointError("The checkpoint has no multi-modal projector tensors.")


def _text_params(cfg: dict[str, Any], tensors: dict[str, TensorRef]) -> TextParams:
    layers = int(cfg["num_hidden_layers"])
    full, local = _rope(cfg)
    return TextParams(
        hidden=int(cfg["hidden_size"]), layers=layers,
        heads=int(cfg.get("num_attention_heads", 8)),
        kv_heads=int(cfg.get("num_key_value_heads", 4)),
        head_dim=int(cfg.get("head_dim", 256)), ffn=int(cfg["intermediate_size"]),
        rms_eps=float(cfg.get("rms_norm_eps", 1e-6)),
        context=int(cfg.get("max_position_embeddings", 131072)),
        sliding_window=int(cfg.get("sliding_window", 4096)), sliding=_layer_types(cfg, layers),
        rope_theta=float(full.get("rope_theta", 1_000_000.0)),
        rope_theta_local=float(local.get("rope_theta", cfg.get("rope_local_base_freq", 10_000.0))),
        rope_linear_factor=_linear_factor(full),
        final_softcap=cfg.get("final_logit_softcapping"),
        tied_embeddings=_tied(cfg, tensors),
    )  # fmt: skip


def _tied(cfg: dict[str, Any], tensors: dict[str, TensorRef]) -> bool:
    """Gemma ties the output to the embedding; a separate lm_head is used only if untied."""
    return bool(cfg.get("tie_word_embeddings", True)) or "lm_head.weight" not in tensors


def _rope(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(global layers' rope, sliding layers' rope) from either config form."""
    parameters = cfg.get("rope_parameters")
    if isinstance(parameters, dict) and "full_attention" in parameters:
        return dict(parameters["full_attention"]), dict(parameters.get("sliding_attention", {}))
    full = dict(cfg.get("rope_scaling") or {})
    full["rope_theta"] = cfg.get("rope_theta", 1_000_000.0)
    return full, {"rope_theta": cfg.get("rope_local_base_freq", 10_000.0)}


def _linear_factor(rope: dict[str, Any]) -> float:
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind == "linear":
        return float(rope.get("factor", 1.0))
    if kind not in ("default", None):
        raise CheckpointError(f"The rope scaling type {kind!r} is not supported for Gemma 3.")
    return 1.0


def _layer_types(cfg: dict[str, Any], layers: int) -> tuple[bool, ...]:
    types = cfg.get("layer_types")
    if isinstance(types, list) and len(types) == layers:
        return tuple(kind == "sliding_attention" for kind in types)
    pattern = int(cfg.get("sliding_window_pattern", 6))
    return tuple((index + 1) % pattern != 0 for index in range(layers))


def _vision_params(config: dict[str, Any], folder: Path) -> VisionParams:
    cfg = config["vision_config"]
    processor = _image_processor(folder)
    mean = processor.get("image_mean", [0.5, 0.5, 0.5])
    std = processor.get("image_std", [0.5, 0.5, 0.5])
    return VisionParams(
        hidden=int(cfg.get("hidden_size", 1152)), layers=int(cfg.get("num_hidden_layers", 27)),
        heads=int(cfg.get("num_attention_heads", 16)), ffn=int(cfg.get("intermediate_size", 4304)),
        image_size=int(cfg.get("image_size", 896)), patch=int(cfg.get("patch_size", 14)),
        eps=float(cfg.get("layer_norm_eps", 1e-6)),
        tokens_per_image=int(config.get("mm_tokens_per_image", 256)),
        image_mean=(float(mean[0]), float(mean[1]), float(mean[2])),
        image_std=(float(std[0]), float(std[1]), float(std[2])),
    )  # fmt: skip


def _image_processor(folder: Path) -> dict[str, Any]:
    """preprocessor_config.json (transformers 4) or processor_config.json's image part (5)."""
    if (folder / "preprocessor_config.json").is_file():
        return read_json(folder / "preprocessor_config.json")
    if (folder / "processor_config.json").is_file():
        data = read_json(folder / "processor_config.json")
        inner = data.get("image_processor", data)
        return inner if isinstance(inner, dict) else {}
    return {}
