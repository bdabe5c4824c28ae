"""Lead labels as files write them ("i", "AVR", "v1", "Lead aVR") mapped to the standard names.

Every reader names its leads through `standard_lead_name`, so "avr" from PTB and
"AVR" from PTB-XL both become "aVR" and the renderer finds them. Labels that are
not one of the standard 12 keep their own spelling (PTB's Frank leads "vx", "vy",
"vz"), except right-sided and posterior chest leads, which are written the usual
way ("v3r" -> "V3R", "v7" -> "V7").
"""

from __future__ import annotations

import re

from ecgviewer.core.digital.record import STANDARD_LEADS

_BY_UPPER = {name.upper(): name for name in STANDARD_LEADS}
_CHEST = re.compile(r"V\d{1,2}R?")


def standard_lead_name(label: str) -> str:
    """The standard name for `label` (case-insensitive), or the trimmed label itself."""
    text = label.strip()
    upper = text.upper()
    if upper in _BY_UPPER:
        return _BY_UPPER[upper]
    if _CHEST.fullmatch(upper):
        return upper
    return text
