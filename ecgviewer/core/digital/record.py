"""One digital ECG recording as every reader returns it, and the standard 12 leads.

Samples are in millivolts (float32), one array per lead, all leads the same
length and sampling rate. Lead names are the standard ones (`STANDARD_LEADS`,
plus any extra such as V3R, V7 or X/Y/Z kept under their own names). Leads a
file does not store are derived where Einthoven's and Goldberger's relations
allow (from I and II: III = II - I, aVR = -(I + II) / 2, aVL = I - II / 2,
aVF = II - I / 2) and listed in `derived`; standard leads that can be neither
read nor derived are listed in `missing` and left blank on the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ecgviewer.core.errors import InputError

STANDARD_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)  # fmt: skip
LIMB_FROM_I_II = ("III", "aVR", "aVL", "aVF")
MIN_SAMPLING_HZ = 100.0
FLAT_MV = 0.01  # a lead whose whole range is below this is flat (not connected)


class DigitalEcgError(InputError):
    """A digital ECG file that cannot be read or drawn; the message says why and what to do."""


@dataclass(frozen=True)
class EcgRecord:
    """A recording: leads in mV, its sampling rate, and what the file says about it."""

    leads: Mapping[str, np.ndarray]  # standard name -> samples in mV (float32)
    sampling_hz: float
    format: str  # "WFDB", "DICOM 12-lead ECG", "Philips SierraECG XML 1.04", ...
    start: str = ""  # ISO 8601 time of the first sample, "" when the file has none
    device: str = ""  # cart or software that recorded or wrote it
    study: Mapping[str, str] = field(default_factory=dict)  # case.STUDY_FIELDS keys
    derived: tuple[str, ...] = ()  # leads computed from others, not stored
    missing: tuple[str, ...] = ()  # standard leads neither stored nor derivable
    flat: tuple[str, ...] = ()  # leads with (almost) no signal
    saturated: tuple[str, ...] = ()  # leads that sit at the converter's limit
    notes: tuple[str, ...] = ()  # what the reader had to flag (damaged header dates...)

    @property
    def samples(self) -> int:
        return len(next(iter(self.leads.values()))) if self.leads else 0

    @property
    def duration_s(self) -> float:
        return self.samples / self.sampling_hz if self.sampling_hz else 0.0


Completed = tuple[dict[str, np.ndarray], tuple[str, ...], tuple[str, ...]]


def complete_leads(stored: Mapping[str, np.ndarray]) -> Completed:
    """`stored` plus the limb leads derivable from I and II; (leads, derived, missing)."""
    leads = {name: np.asarray(values, dtype=np.float32) for name, values in stored.items()}
    derived: list[str] = []
    if "I" in leads and "II" in leads:
        one, two = leads["I"], leads["II"]
        formulas = {"III": two - one, "aVR": -(one + two) / 2, "aVL": one - two / 2,
                    "aVF": two - one / 2}  # fmt: skip
        for name in LIMB_FROM_I_II:
            if name not in leads:
                leads[name] = formulas[name].astype(np.float32)
                derived.append(name)
    missing = tuple(name for name in STANDARD_LEADS if name not in leads)
    return leads, tuple(derived), missing


def flat_leads(leads: Mapping[str, np.ndarray]) -> tuple[str, ...]:
    """Leads whose whole range (ignoring NaN) is under `FLAT_MV`."""
    flat = []
    for name, values in leads.items():
        finite = values[np.isfinite(values)]
        if finite.size == 0 or float(finite.max() - finite.min()) < FLAT_MV:
            flat.append(name)
    return tuple(flat)


def check_sampling(sampling_hz: float, what: str) -> None:
    """Refuse a rate the page cannot show (under 100 Hz a QRS is two or three samples)."""
    if not sampling_hz or sampling_hz < MIN_SAMPLING_HZ:
        raise DigitalEcgError(
            f"{what} is sampled at {sampling_hz:g} Hz; ECG Viewer needs at least "
            f"{MIN_SAMPLING_HZ:g} Hz to draw a diagnostic page."
        )
