"""What a loaded model is, and the events of a runtime: plain data, shared by the runtime,
its callers and the GUI."""

from __future__ import annotations

from dataclasses import dataclass, field

from ecgviewer.core.case import DecodingSettings, Provenance
from ecgviewer.core.inference import memory
from ecgviewer.core.inference.client import Event
from ecgviewer.core.inference.machine import MachineFacts
from ecgviewer.core.inference.preflight import PairFacts


@dataclass(frozen=True)
class CheckedPair:
    """What `load` established before starting the worker; reused by automatic restarts."""

    facts: PairFacts
    provenance: Provenance
    expected: memory.MemoryEstimate
    temperature: float
    max_tokens: int


@dataclass(frozen=True)
class Restarted:
    """The engine died and was restarted; `note` says why and what changed, in one sentence."""

    request_id: int
    note: str
    model: LoadedModel


RuntimeEvent = Event | Restarted


@dataclass(frozen=True)
class LoadedModel:
    """A pair that passed every check and is loaded in the worker."""

    facts: PairFacts
    provenance: Provenance
    memory: memory.MemoryEstimate
    load_ms: float
    gpu_fallback: bool
    decoding: DecodingSettings
    encode_estimate_ms: float = 0.0  # last measured image read with these settings; 0 = unknown
    machine: MachineFacts = field(default_factory=MachineFacts)
    notes: tuple[str, ...] = ()  # settings not applied, or changed after a crash: tell the user

    @property
    def display_name(self) -> str:
        known = self.provenance.known_pair
        return known or self.facts.text.name


def is_ecg_model_name(*names: str) -> bool:
    """Unknown pairs count as ECG models only when their name says so."""
    return any("ecg" in name.lower() for name in names)
