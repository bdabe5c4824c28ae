"""The appendix: full SHA-256 fingerprints of the scan and of every model file used."""

from __future__ import annotations

from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table

from ecgviewer.core.case import Case
from ecgviewer.core.digital.facts_text import render_step_of
from ecgviewer.core.report.markup import inline
from ecgviewer.core.report.pagesize import MM
from ecgviewer.core.report.provenance import NOT_RECORDED, answer_numbers, file_name
from ecgviewer.core.report.styles import RULE, TABLE_HEAD_FILL, styles, table_style

APPENDIX_TITLE = "Appendix: full SHA-256 fingerprints"
_HOW_TO_CHECK = (
    "To check that a file is the one used, compare these values with the output of "
    "sha256sum\u00a0FILE (Linux, macOS) or certutil\u00a0-hashfile\u00a0FILE\u00a0SHA256 (Windows)."
)


def fingerprints(case: Case) -> list[tuple[str, str, str]]:
    """(what, file name, full SHA-256) for the scan and each distinct model file."""
    rows = [("Scan", case.source.name, case.source.sha256 or NOT_RECORDED)]
    drawn = render_step_of(case.steps)
    if drawn is not None:  # the stored scan is the drawn page; the recording's files follow
        rows = [("Page drawn from the signal (PNG)", case.source.name, rows[0][2])]
        rows += [("Recording file", str(f.get("name", "")), str(f.get("sha256") or NOT_RECORDED))
                 for f in drawn.get("files") or []]  # fmt: skip
    used: dict[tuple[str, str, str], list[int]] = {}
    for number, turn in enumerate(case.thread, start=1):
        if turn.provenance is None:
            continue
        for kind, identity in (
            ("Model", turn.provenance.model),
            ("Projector (mmproj)", turn.provenance.mmproj),
        ):
            key = (kind, file_name(identity), identity.sha256 or NOT_RECORDED)
            used.setdefault(key, []).append(number)
    for (kind, name, sha256), numbers in used.items():
        rows.append((f"{kind}, {answer_numbers(numbers)}", name, sha256))
    return rows


def _fingerprint_table(case: Case, width: float) -> Table:
    st = styles()
    head = [Paragraph(text, st.cell_head) for text in ("File", "SHA-256")]
    body = [
        [
            Paragraph(f"<b>{inline(what)}</b><br/>{inline(name)}", st.cell),
            Paragraph(inline(sha256, mono=True), st.mono),
        ]
        for what, name, sha256 in fingerprints(case)
    ]
    hash_width = 110 * MM  # 64 monospaced characters on one line
    table = Table([head, *body], colWidths=[width - hash_width, hash_width], repeatRows=1)
    table.setStyle(
        table_style(
            [
                ("BACKGROUND", (0, 0), (-1, 0), TABLE_HEAD_FILL),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def appendix_section(case: Case, width: float) -> list[Flowable]:
    """The full fingerprints in a monospaced font, kept on one page (it is short)."""
    st = styles()
    return [
        KeepTogether(
            [
                Paragraph(APPENDIX_TITLE, st.h1),
                Paragraph(inline(_HOW_TO_CHECK), st.small),
                Spacer(1, 2 * MM),
                _fingerprint_table(case, width),
            ]
        )
    ]
