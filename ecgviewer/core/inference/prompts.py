"""Prompt presets from the MedGemma-4B-ECGInstruct model card, versioned.

Every answer records the preset key and PROMPTS_VERSION, so a reading can be
traced to the exact wording asked.
"""

from __future__ import annotations

from dataclasses import dataclass

PROMPTS_VERSION = "2026.11-1"


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    text: str


PRESETS: tuple[Preset, ...] = (
    Preset("interpret", "Detailed interpretation",
           "Analyze this ECG and provide a detailed interpretation."),
    Preset("abnormalities", "Abnormalities",
           "What abnormalities are present in this ECG?"),
    Preset("diagnosis", "Most likely diagnosis",
           "Based on this ECG, what is the most likely diagnosis?"),
    Preset("afib", "Atrial fibrillation?",
           "Does this ECG show signs of atrial fibrillation?"),
    Preset("rate-rhythm", "Heart rate and rhythm",
           "What is the heart rate and rhythm in this ECG?"),
)  # fmt: skip
DEFAULT_PRESET = PRESETS[0]


def preset(key: str) -> Preset:
    """Look a preset up by key; raises KeyError listing the valid keys."""
    for item in PRESETS:
        if item.key == key:
            return item
    raise KeyError(f"unknown preset {key!r}; choose one of: {', '.join(p.key for p in PRESETS)}")
