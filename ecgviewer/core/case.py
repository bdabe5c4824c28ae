"""The domain model of one case: a scan, what was done to it, and what was asked and answered.

Plain dataclasses shared by the runtime (which produces `Turn`s), the report
(which prints a `Case`), the case history (which stores it) and the GUI (which
shows it). Every result records what produced it: model identity, prompt and
its version, preprocessing steps, decoding settings and timings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

StopReason = Literal["eos", "length", "cancelled", "failed", "interrupted"]
COMPLETE_STOP_REASONS: frozenset[str] = frozenset({"eos"})
"""An answer that stopped for any other reason is incomplete and marked so."""

STUDY_FIELDS: tuple[tuple[str, str], ...] = (
    ("patient_id", "Patient ID"),
    ("name", "Name"),
    ("date_of_birth", "Date of birth"),
    ("age", "Age"),
    ("sex", "Sex"),
    ("acquisition_date", "Recorded"),
    ("referring_clinician", "Requested by"),
    ("indication", "Indication"),
    ("comment", "Comment"),
)
"""Optional study fields (key, label), in display order. They never leave the machine."""


@dataclass(frozen=True)
class ModelIdentity:
    """Which file produced an answer (one of the text GGUF or the mmproj)."""

    path: str
    sha256: str
    architecture: str = ""
    quantization: str = ""
    size_bytes: int = 0


@dataclass(frozen=True)
class Provenance:
    """The model pair and how it was run."""

    model: ModelIdentity
    mmproj: ModelIdentity
    known_pair: str = ""  # name from models/manifest.json, "" when unknown
    fallback_template: bool = False  # built-in Gemma 3 template used (GGUF had none)
    is_ecg_model: bool = True  # False for the small test model: its text is not a reading
    server_url: str = ""  # the inference server that answered (no credentials); "" = this computer
    served_model: str = ""  # the model id that server reported (/v1/models)


@dataclass(frozen=True)
class DecodingSettings:
    """How tokens were chosen."""

    temperature: float = 0.0
    seed: int = 42
    max_tokens: int = 512
    n_ctx: int = 4096
    n_threads: int = 0
    n_gpu_layers: int = 0
    flash_attn: bool = True
    repack_weights: bool = False  # llama.cpp's repacked CPU kernels (numerically different)
    machine: str = ""  # CPU, the instruction sets llama.cpp uses, threads
    buffer_types: str = ""  # where llama.cpp put the weights: "CPU_Mapped", "CPU_REPACK", "AMX"


@dataclass
class Timings:
    """Where the time went for one answer, in milliseconds (None = not measured)."""

    model_load_ms: float | None = None
    image_encode_ms: float | None = None
    prompt_prefill_ms: float | None = None
    first_token_ms: float | None = None  # from the request to the first text
    decode_ms: float | None = None
    decode_tokens: int = 0
    total_ms: float | None = None

    @property
    def tokens_per_second(self) -> float | None:
        if not self.decode_ms or self.decode_tokens <= 1:
            return None
        return (self.decode_tokens - 1) / (self.decode_ms / 1000.0)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tokens_per_second"] = self.tokens_per_second
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timings:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class Turn:
    """One question and the model's answer, verbatim."""

    question: str
    answer: str = ""
    stop_reason: StopReason | None = None  # None while the answer is streaming
    prompt_preset: str = ""  # preset key, "" for free text
    prompt_version: str = ""
    started_at: str = ""  # when the question was asked, ISO 8601 with time zone
    finished_at: str = ""  # when the answer ended ("" while streaming, or not recorded)
    timings: Timings = field(default_factory=Timings)
    provenance: Provenance | None = None
    decoding: DecodingSettings | None = None

    @property
    def complete(self) -> bool:
        return self.stop_reason in COMPLETE_STOP_REASONS


@dataclass
class SourceInfo:
    """The file a case was opened from."""

    path: str
    name: str
    page: int = 0  # PDF / multi-page TIFF page, 0-based
    page_count: int = 1
    sha256: str = ""
    format: str = ""


@dataclass
class Case:
    """One ECG and everything done with it."""

    source: SourceInfo
    steps: list[dict[str, Any]] = field(default_factory=list)  # preprocessing, JSON-ready
    thread: list[Turn] = field(default_factory=list)
    notes: str = ""  # clinician notes, never merged with AI text
    study: dict[str, str] = field(default_factory=dict)  # keys from STUDY_FIELDS
    created_at: str = ""
    updated_at: str = ""
    exported_pdfs: list[str] = field(default_factory=list)
    case_id: int | None = None


def now_iso() -> str:
    """The current local time, ISO 8601 with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")
