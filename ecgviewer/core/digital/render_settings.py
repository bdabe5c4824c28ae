"""How a digital recording is put on paper: layout, speed, gain, resolution, page.

The defaults are ECG-Image-Kit's (the generator the training images very probably
came from): US Letter landscape at 200 dpi, three rows of four 2.5 s columns plus
a 10 s lead II rhythm strip, 25 mm/s, 10 mm/mV.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ecgviewer.core.digital.record import DigitalEcgError

# Each layout: rows of leads, left to right; a cart prints column k from k * column time.
LAYOUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "3x4+1": (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6")),
    "6x2": (("I", "V1"), ("II", "V2"), ("III", "V3"), ("aVR", "V4"), ("aVL", "V5"), ("aVF", "V6")),
    "12x1": tuple((name,) for name in (
        "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
    )),
}  # fmt: skip
PAPER_SECONDS = 10.0  # what a page shows across all its columns at 25 mm/s
RENDERER = "ecgviewer.digital.render"
RENDERER_VERSION = 1


@dataclass(frozen=True)
class RenderSettings:
    """Page settings; defaults are ECG-Image-Kit's. `header`: lines printed top left."""

    layout: str = "3x4+1"  # "3x4+1" | "6x2" | "12x1"; "+1" adds the rhythm strip
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    dpi: float = 200.0
    page_in: tuple[float, float] = (11.0, 8.5)  # width, height in inches (landscape)
    rhythm_lead: str = "II"
    header: tuple[str, ...] = ()  # none on a digital page, as in ECG-Image-Kit

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            choices = ", ".join(LAYOUTS)
            raise DigitalEcgError(f"Unknown page layout {self.layout!r}; choose one of {choices}.")
        for name, value, low, high in (("speed", self.speed_mm_s, 5, 100),
                                       ("gain", self.gain_mm_mv, 1, 40),
                                       ("resolution", self.dpi, 50, 600)):  # fmt: skip
            if not low <= value <= high:
                raise DigitalEcgError(f"A page {name} of {value:g} is outside {low}-{high}.")

    @property
    def rows(self) -> tuple[tuple[str, ...], ...]:
        return LAYOUTS[self.layout]

    @property
    def has_rhythm_strip(self) -> bool:
        return self.layout.endswith("+1")

    @property
    def px_per_mm(self) -> float:
        return self.dpi / 25.4

    def as_json(self) -> dict[str, Any]:
        """The settings as plain JSON values, with the renderer's name and version."""
        values = asdict(self)
        values["page_in"] = list(self.page_in)
        values["header"] = list(self.header)
        return {"renderer": RENDERER, "renderer_version": RENDERER_VERSION, **values}
