"""The report without identifiers: the case with its study fields and file name left out.

For teaching, a second opinion or a paper. What stays: the ECG image, the
questions and answers, the clinician's notes (written by the user, who is told
so) and the provenance. Text printed on the scan itself (a name in a cart's
header) is part of the image and is not removed; the report says so, and the
user can crop it away before exporting.
"""

from __future__ import annotations

from dataclasses import replace

from ecgviewer.core.case import Case

WITHHELD_NAME = "scan (file name withheld)"
NOTICE = (
    "Exported without identifiers: the patient and study fields and the scan's file name are "
    "left out. Names or numbers printed on the scan itself are not removed unless the image "
    "was cropped to exclude them. The questions, answers and notes are kept as written."
)


def without_identifiers(case: Case) -> Case:
    """A copy of `case` with no study fields, no file name or path, no export paths."""
    source = replace(case.source, name=WITHHELD_NAME, path="")
    return replace(case, study={}, source=source, exported_pdfs=[])
