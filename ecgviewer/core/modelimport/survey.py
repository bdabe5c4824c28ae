"""What an import will find, need and produce, before anything is written (the dialog's facts).

Reads only config files and shard headers: instant even for 8.6 GB checkpoints.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgviewer.core.inference import memory
from ecgviewer.core.inference.loaded import is_ecg_model_name
from ecgviewer.core.inference.preflight import PairFacts, ProjectorFacts, TextModelFacts
from ecgviewer.core.modelimport.calibrate import calibration_seconds
from ecgviewer.core.modelimport.checkpoint import Checkpoint, open_checkpoint
from ecgviewer.core.modelimport.importer import disk_needed
from ecgviewer.core.modelimport.lora import check_fits, read_adapter
from ecgviewer.core.modelimport.quantize import BITS_PER_WEIGHT
from ecgviewer.core.settings import ModelSettings


@dataclass(frozen=True)
class Survey:
    """A checked checkpoint and what importing it costs, per quantization."""

    checkpoint: Checkpoint
    lora: str  # adapter folder name, "" when none
    free_bytes: int  # in the output folder's drive

    @property
    def architecture(self) -> str:
        names = self.checkpoint.config.get("architectures") or ["Gemma3ForConditionalGeneration"]
        return str(names[0])

    @property
    def looks_like_ecg_model(self) -> bool:
        return is_ecg_model_name(self.checkpoint.folder.name, self.lora)

    def text_bytes(self, quant: str) -> int:
        """The text GGUF's size: its parameters at the quantization's bits per weight."""
        return int(self._text_parameters() * BITS_PER_WEIGHT[quant] / 8)

    def projector_bytes(self) -> int:
        parts = self.checkpoint.tensors.items()
        return sum(r.nbytes for n, r in parts if not n.startswith(("model.", "lm_head.")))

    def disk_bytes(self, quant: str) -> int:
        return disk_needed(self.checkpoint, quant)

    def memory_bytes(self, quant: str, settings: ModelSettings | None = None) -> int:
        """What the app will need to run the imported pair (the model dialog's estimate)."""
        return memory.estimate(self._pair_facts(quant), settings or ModelSettings()).total

    def calibration_seconds(self, images: int) -> float:
        text = self.checkpoint.text
        return calibration_seconds(images, text.hidden, text.layers)

    def _text_parameters(self) -> int:
        text = [r for n, r in self.checkpoint.tensors.items() if n.startswith("model.")]
        return sum(math.prod(r.shape) for r in text)

    def _pair_facts(self, quant: str) -> PairFacts:
        text = self.checkpoint.text
        vision = self.checkpoint.vision
        text_facts = TextModelFacts(
            Path("text.gguf"), self.text_bytes(quant), self.checkpoint.folder.name, "gemma3",
            quant, text.hidden, text.layers, text.context, text.kv_heads, text.head_dim,
            text.head_dim, True, text.sliding_window,
        )  # fmt: skip
        projector = ProjectorFacts(
            Path("mmproj.gguf"), self.projector_bytes(), "mmproj", "F16", "gemma3", text.hidden,
            vision.image_size, vision.patch,
        )  # fmt: skip
        return PairFacts(text_facts, projector)

    def to_json(self) -> dict[str, Any]:
        cp = self.checkpoint
        return {
            "architecture": self.architecture, "layout": cp.layout, "dtype": cp.dtype,
            "transformers5_config": cp.transformers5, "size_bytes": cp.size_bytes,
            "lora": self.lora or None, "free_bytes": self.free_bytes,
        }  # fmt: skip


def survey(folder: Path, out: Path, lora: Path | None = None) -> Survey:
    """Check the checkpoint (and adapter) and measure the output drive; raises CheckpointError."""
    checkpoint = open_checkpoint(folder)
    if lora is not None:
        check_fits(read_adapter(lora), checkpoint.tensors)
    existing = next((p for p in (out, *out.parents) if p.exists()), Path.cwd())
    return Survey(checkpoint, lora.name if lora else "", shutil.disk_usage(existing).free)
