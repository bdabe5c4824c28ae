"""The questions, the model's answers (verbatim) and the clinician's notes."""

from __future__ import annotations

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, Spacer

from ecgviewer import DISCLAIMER
from ecgviewer.core.case import Case, Turn
from ecgviewer.core.labels import NON_ECG_LABEL, is_ecg_output, stop_mark
from ecgviewer.core.report.markup import inline, verbatim
from ecgviewer.core.report.pagesize import MM
from ecgviewer.core.report.panel import Panel
from ecgviewer.core.report.styles import (
    AI_BAR,
    AI_FILL,
    NOTES_BAR,
    NOTES_FILL,
    QUESTION_BAR,
    QUESTION_FILL,
    styles,
)

AI_LABEL = f"AI answer - {DISCLAIMER}"
NON_ECG_NOTE = (
    "This text comes from a small general-purpose test model that cannot read ECGs. "
    f"It only shows that the software works; it says nothing about this ECG. {DISCLAIMER}."
)
NOTES_TITLE = "Clinician notes (not AI-generated)"

_ROOM_FOR_SECTION = 70 * MM  # start a section on a new page when less room than this is left
_ROOM_FOR_TURN = 40 * MM


def incomplete_label(turn: Turn) -> str:
    """The visible mark of an answer that did not end normally, "" when it did."""
    return "" if turn.complete else stop_mark(turn.stop_reason)


def thread_title(thread: list[Turn]) -> str:
    """Section title: never calls test-model output an interpretation."""
    ecg = [is_ecg_output(turn) for turn in thread]
    if all(ecg):
        return "Questions and AI answers"
    return NON_ECG_LABEL if not any(ecg) else "Questions and model output"


def _question_meta(turn: Turn) -> str:
    parts = [f"Asked {turn.started_at}" if turn.started_at else "Time not recorded"]
    if turn.prompt_preset:
        version = f", version {turn.prompt_version}" if turn.prompt_version else ""
        parts.append(f"preset prompt {turn.prompt_preset!r}{version}")
    else:
        parts.append("free-text question")
    return " - ".join(parts)


def _answer_flowables(turn: Turn) -> list[Flowable]:
    st = styles()
    label = AI_LABEL if is_ecg_output(turn) else NON_ECG_LABEL
    inside: list[Flowable] = [Paragraph(inline(label), st.panel_label), Spacer(1, 1.5 * MM)]
    mark = incomplete_label(turn)
    if mark:
        note = "The text below is only what the model wrote before it stopped."
        inside.append(Paragraph(f"{inline(mark)}. <font size=8>{note}</font>", st.warning))
        inside.append(Spacer(1, 1.5 * MM))
    text = turn.answer if turn.answer.strip() else "(no text)"
    items: list[Flowable] = [
        Spacer(1, 2 * MM),
        Panel([*inside, *verbatim(text, st.text, st.text_heading)], AI_FILL, AI_BAR),
    ]
    if mark:
        end = ParagraphStyle("warning_end", parent=st.warning, keepWithNext=0)
        items.append(Paragraph(f"End of incomplete answer ({inline(mark)}).", end))
    return items


def turn_flowables(number: int, turn: Turn) -> list[Flowable]:
    """One question with its answer, labelled for what produced it.

    Headings and labels sit inside the tinted boxes (or just above them with
    room guaranteed), so an answer of any length flows on without leaving a
    half-empty page behind.
    """
    st = styles()
    heading = ParagraphStyle("question_heading", parent=st.h2, keepWithNext=0)
    meta = [Paragraph(inline(_question_meta(turn)), st.panel_label), Spacer(1, 1.5 * MM)]
    question = verbatim(turn.question, st.text, st.text_heading)
    return [
        Paragraph(f"Question {number}", heading),
        Panel([*meta, *question], QUESTION_FILL, QUESTION_BAR),
        *_answer_flowables(turn),
    ]


def thread_section(case: Case) -> list[Flowable]:
    """All questions and answers, in the order they were asked."""
    st = styles()
    items: list[Flowable] = [
        CondPageBreak(_ROOM_FOR_SECTION),
        Paragraph(inline(thread_title(case.thread)), st.h1),
    ]
    if not case.thread:
        items.append(Paragraph("No question was asked about this ECG.", st.body))
        return items
    if not all(is_ecg_output(turn) for turn in case.thread):
        items.append(Paragraph(inline(NON_ECG_NOTE), st.warning))
    for number, turn in enumerate(case.thread, start=1):
        if number > 1:
            items.append(CondPageBreak(_ROOM_FOR_TURN))
        items += turn_flowables(number, turn)
    return items


def notes_section(notes: str) -> list[Flowable]:
    """The clinician's own notes, boxed apart from the AI text and labelled as such."""
    st = styles()
    items: list[Flowable] = [
        CondPageBreak(_ROOM_FOR_TURN),
        Paragraph(NOTES_TITLE, st.h1),
        Paragraph("Written by a person in ECG Viewer; not produced by the model.", st.small),
        Spacer(1, 1.5 * MM),
    ]
    if not notes.strip():
        items.append(Paragraph("No notes were entered.", st.body))
        return items
    items.append(Panel(verbatim(notes, st.text, st.text_heading), NOTES_FILL, NOTES_BAR))
    return items
