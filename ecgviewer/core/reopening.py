"""Reopening a stored case: decode its stored original, re-apply its recorded steps.

The counterpart of `workspace.open_case()` for a case from the case history.
The stored scan is byte-identical to the file that was opened and the steps
are stored exactly, so the straightened image is pixel-identical to the one
the clinician saw. A case drawn from a digital recording keeps the drawn page as
its scan (core/digital/case_page.py), so it reopens the same way. Pure core: no
Qt; safe to call from a background thread.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ecgviewer.core.case import Case
from ecgviewer.core.digital.facts_text import render_step_of
from ecgviewer.core.imaging.ecgimage import EcgImage
from ecgviewer.core.imaging.loading import load_image
from ecgviewer.core.storage import CaseHistory
from ecgviewer.core.workspace import OpenCase


def rebuild_open_case(case: Case, stored_source: Path) -> OpenCase:
    """The `OpenCase` for a loaded `case` whose original file is at `stored_source`.

    Raises `ImageError` when the stored file cannot be decoded any more.
    """
    loaded = load_image(stored_source, page=case.source.page)
    if render_step_of(case.steps) is not None:  # the stored scan is the page drawn from a signal
        loaded = replace(loaded, format=case.source.format or loaded.format)
    image = EcgImage.from_json(loaded.image, case.steps)
    opened = OpenCase(loaded, image, case)
    opened.model_png()  # encode now, on the caller's (background) thread
    return opened


def reopen_case(history: CaseHistory, case_id: int) -> OpenCase:
    """Load case `case_id` from `history` and rebuild it as it was left."""
    return rebuild_open_case(history.load_case(case_id), history.source_path(case_id))
