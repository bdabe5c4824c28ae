"""Published ECGBench numbers (PULSE paper, arXiv 2410.19008) to set a run beside.

Percentages with one decimal, as published; None where the paper gives none
for that model in our reference notes (shared/reference/ecgbench-protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedResult:
    """One model's published result on one ECGBench subset."""

    subset: str
    model: str
    macro_auc: float | None = None
    macro_f1: float | None = None
    hamming_loss: float | None = None
    accuracy: float | None = None


PUBLISHED: dict[str, tuple[PublishedResult, ...]] = {
    "ptb-xl-super": (
        PublishedResult("PTB-XL super", "PULSE-7B", 82.4, 74.8, 11.0),
        PublishedResult("PTB-XL super", "GPT-4o", 55.6, 28.3, 26.2),
    ),
    "code15": (PublishedResult("CODE-15%", "PULSE-7B", 90.7, 85.4, 5.0),),
    "cpsc": (PublishedResult("CPSC 2018", "PULSE-7B", 76.9, 57.6, 8.6),),
    "ecgqa": (
        PublishedResult("ECG-QA", "PULSE-7B", accuracy=73.8),
        PublishedResult("ECG-QA", "GPT-4o", accuracy=35.2),
    ),
    "mcq": (
        PublishedResult("CSN", "PULSE-7B", accuracy=85.2),
        PublishedResult("G12EC", "PULSE-7B", accuracy=78.2),
        PublishedResult("MMMU-ECG", "PULSE-7B", accuracy=58.0),
        PublishedResult("MMMU-ECG", "GPT-4o", accuracy=43.5),
    ),
}
"""Published results by task name."""

RANDOM_BASELINE_NOTE = "A random baseline on PTB-XL super-class gives a macro AUC of about 50."
