"""A PEFT LoRA adapter merged into its base checkpoint while converting: W + (alpha / r) B A.

MedGemma-4B-ECGInstruct is also published as an adapter (r 32, alpha 64, all
linear layers) on top of medgemma-4b-it. The merge happens tensor by tensor as
the base is written, so neither model is ever held in memory as a whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer.core.modelimport.checkpoint import normal_name, read_json
from ecgviewer.core.modelimport.shards import CheckpointError, TensorRef, index_tensors

_PEFT_PREFIX = "base_model.model."


@dataclass(frozen=True)
class Adapter:
    """The adapter's low-rank pairs, keyed by the normalised name of the weight they change."""

    folder: Path
    scale: float
    pairs: dict[str, tuple[TensorRef, TensorRef]]  # weight name -> (A [r, in], B [out, r])

    def merge(self, name: str, weight: np.ndarray, first_row: int = 0) -> np.ndarray:
        """`weight` (rows from `first_row` on) with this adapter's change added, if it
        targets `name`."""
        pair = self.pairs.get(name)
        if pair is None:
            return weight
        down = pair[0].load()
        up = pair[1].load(first_row, first_row + weight.shape[0])
        return weight + self.scale * (up @ down)


def read_adapter(folder: Path) -> Adapter:
    """Read and check a PEFT LoRA folder (adapter_config.json + adapter_model.safetensors)."""
    if not (folder / "adapter_config.json").is_file():
        raise CheckpointError(
            f"{folder.name} has no adapter_config.json: it is not a PEFT LoRA adapter folder."
        )
    config = read_json(folder / "adapter_config.json")
    if config.get("peft_type", "LORA") != "LORA":
        raise CheckpointError(f"The adapter is {config.get('peft_type')}, not LoRA.")
    unsupported = [key for key in ("use_dora", "rank_pattern", "alpha_pattern",
                                   "modules_to_save") if config.get(key)]  # fmt: skip
    if unsupported:
        raise CheckpointError(
            f"The adapter uses {', '.join(unsupported)}, which the importer does not apply.",
            hint="Merge it with PEFT (merge_and_unload) and import the merged checkpoint.",
        )
    rank, alpha = int(config.get("r", 8)), float(config.get("lora_alpha", 8))
    scale = alpha / (math.sqrt(rank) if config.get("use_rslora") else rank)
    pairs: dict[str, dict[str, TensorRef]] = {}
    for key, ref in index_tensors(folder).items():
        stem, _, part = key.removeprefix(_PEFT_PREFIX).rpartition(".lora_")
        if not stem or part not in ("A.weight", "B.weight"):
            raise CheckpointError(  # lora_embedding_A/B, modules_to_save copies...
                f"The adapter holds {key}, which the importer does not know how to merge.",
                hint="Merge it with PEFT (merge_and_unload) and import the merged checkpoint.",
            )
        pairs.setdefault(normal_name(stem + ".weight"), {})[part[0]] = ref
    if not pairs:
        raise CheckpointError("The adapter holds no LoRA weights (lora_A / lora_B).")
    return Adapter(folder, scale, {name: (p["A"], p["B"]) for name, p in pairs.items()})


def check_fits(adapter: Adapter, tensors: dict[str, TensorRef]) -> None:
    """Every pair targets a weight of the base with matching shapes, or a clear error."""
    for name, (down, up) in adapter.pairs.items():
        base = tensors.get(name)
        if base is None:
            raise CheckpointError(
                f"The LoRA adapter changes {name}, which the base checkpoint does not have.",
                hint="Use the base model the adapter was trained on.",
            )
        wanted = (up.shape[0], down.shape[1])
        if base.shape != wanted or down.shape[0] != up.shape[1]:
            raise CheckpointError(
                f"The LoRA adapter does not fit the base model: {name} is "
                f"{list(base.shape)}, the adapter expects {list(wanted)}.",
                hint="Use the base model the adapter was trained on (for MedGemma-ECG: "
                "medgemma-4b-it).",
            )
