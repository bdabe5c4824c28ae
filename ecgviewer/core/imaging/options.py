"""Which automatic preprocessing steps run (each can be turned off)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PreprocessOptions:
    """Switches for the automatic pipeline; a manual choice for a step overrides its switch."""

    perspective: bool = True  # find the sheet's corners in a photo and flatten it
    deskew: bool = True  # straighten from the grid lines
    crop: bool = True  # cut away what is not paper (table, scanner borders)
    trim_margins: bool = False  # also cut blank paper margins around the printout
    auto_orient: bool = True  # turn sideways or upside-down pages when the evidence is clear,
    # else suggest the turn (docs/preprocessing.md, orient.py)
    contrast: bool = False  # normalise contrast of faint scans

    def enabled(self, op: str) -> bool:
        """Whether the automatic detection for step `op` runs."""
        switch = {
            "perspective": self.perspective,
            "deskew": self.deskew,
            "rotate90": self.auto_orient,
            "crop": self.crop,
            "trim_margins": self.trim_margins,
            "contrast": self.contrast,
        }
        return switch.get(op, False)

    def to_json(self) -> dict[str, Any]:
        """The switches as a plain dict."""
        return asdict(self)

    @classmethod
    def none(cls) -> PreprocessOptions:
        """Every automatic step off (manual steps only)."""
        return cls(False, False, False, False, False, False)
