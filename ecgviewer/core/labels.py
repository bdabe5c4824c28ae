"""The words for how an answer ended and for a non-ECG model's output, said once.

The Interpretation panel and the PDF report show the same words: the panel
writes "[Stopped by the user - incomplete]" under the answer, the report
prints the capitalised mark "INCOMPLETE - stopped by the user" so it stands
out on paper. Both forms come from `STOP_LABELS`.
"""

from __future__ import annotations

from ecgviewer.core.case import Turn

NON_ECG_LABEL = "Output of a non-ECG test model - not an ECG interpretation"
"""What the output of the small general-purpose test model is called, everywhere."""

STOP_LABELS: dict[str | None, str] = {
    "cancelled": "Stopped by the user",
    "length": "Reached the token limit",
    "failed": "Failed",
    "interrupted": "Interrupted",
    None: "Still being written",
}
"""How an answer that did not end normally ended, by stop reason (None: streaming)."""


def stop_label(stop_reason: str | None) -> str:
    """The panel's words, e.g. "Stopped by the user - incomplete"; "" for a whole answer."""
    if stop_reason == "eos":
        return ""
    return f"{_ending(stop_reason)} - incomplete"


def stop_mark(stop_reason: str | None) -> str:
    """The report's capitalised mark, e.g. "INCOMPLETE - stopped by the user"; "" if whole."""
    if stop_reason == "eos":
        return ""
    ending = _ending(stop_reason)
    return f"INCOMPLETE - {ending[:1].lower()}{ending[1:]}"


def is_ecg_output(turn: Turn) -> bool:
    """False when the recorded model is the non-ECG test model."""
    return turn.provenance is None or turn.provenance.is_ecg_model


def _ending(stop_reason: str | None) -> str:
    return STOP_LABELS.get(stop_reason, f"Stopped ({stop_reason})")
