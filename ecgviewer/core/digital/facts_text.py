"""The words for a page drawn from a signal: the recording's facts and the renderer's settings.

One wording for the window's facts panel, the PDF report and the CLI summary, made
from the case's "render" step (`case_page.open_recording`; `render_step_of` finds
it), so a case reopened from the history reads the same as when it was opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ecgviewer.core.digital.record import STANDARD_LEADS

SEPARATOR = " · "
RENDER_OP = "render"  # the step that says a case's page was drawn from a recording


def render_step_of(steps: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The "render" step among a case's steps (JSON), or None for a scanned case."""
    return next((step for step in steps if step.get("op") == RENDER_OP), None)


def facts_lines(step: Mapping[str, Any]) -> list[str]:
    """One line of what was recorded, and one of what to watch for (when there is any)."""
    facts = step.get("recording") or {}
    leads = list(facts.get("leads") or [])
    extra = [name for name in leads if name not in STANDARD_LEADS]  # V3R, V7, Frank leads...
    first = [
        str(facts.get("format") or "Digital ECG"),
        f"{_number(facts.get('sampling_hz'))} Hz",
        f"{float(facts.get('duration_s') or 0):.1f} s",
        f"{len(leads)} leads" + (f" (with {', '.join(extra)})" if extra else ""),
    ]
    if facts.get("device"):
        first.append(str(facts["device"]))
    first += _listed(facts, (("derived", "derived"),))
    second = _listed(facts, (("missing", "not recorded"), ("flat", "flat"),
                             ("saturated", "saturated")))  # fmt: skip
    second += [str(note) for note in facts.get("notes") or []]
    return [SEPARATOR.join(first)] + ([SEPARATOR.join(second)] if second else [])


def renderer_text(step: Mapping[str, Any]) -> str:
    """Which renderer drew the page and with which settings, in one sentence part."""
    r = step.get("renderer") or {}
    page = r.get("page_in") or ["?", "?"]
    size = r.get("size") or ["?", "?"]
    parts = [
        f"{r.get('renderer', 'renderer')} v{r.get('renderer_version', '?')}",
        f"layout {r.get('layout', '?')}",
        f"{_number(r.get('speed_mm_s'))} mm/s",
        f"{_number(r.get('gain_mm_mv'))} mm/mV",
        f"{_number(page[0])} x {_number(page[1])} in at {_number(r.get('dpi'))} dpi "
        f"({size[0]} x {size[1]} px, {_number(r.get('px_per_mm'))} px/mm)",
        f"{_number(r.get('seconds'))} s shown",
    ]
    if r.get("rhythm_lead") and str(r.get("layout", "")).endswith("+1"):
        parts.insert(2, f"lead {r['rhythm_lead']} rhythm strip")
    if r.get("blank_leads"):
        parts.append("left blank: " + ", ".join(r["blank_leads"]))
    return ", ".join(parts)


def drawn_caption(name: str, fmt: str, step: Mapping[str, Any]) -> str:
    """The report's caption of a drawn page: drawn from the signal, by what, how."""
    files = step.get("files") or []
    prints = ", ".join(f"{f.get('name')} SHA-256 {str(f.get('sha256', ''))[:16]}…" for f in files)
    kind = f" ({fmt})" if fmt else ""
    return (f"ECG page drawn from the signal of {name}{kind} by {renderer_text(step)}; "
            f"nothing straightened or cropped. Recording: {prints or 'not recorded'}.")  # fmt: skip


def _listed(facts: Mapping[str, Any], keys: Sequence[tuple[str, str]]) -> list[str]:
    return [f"{label}: {', '.join(facts[key])}" for key, label in keys if facts.get(key)]


def _number(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return "?"
