"""What the PDF report says: sections, labels, disclaimer and footer on every page."""

from __future__ import annotations

import pytest

from ecgviewer import DISCLAIMER, REPORT_FOOTER
from ecgviewer.core.case import StopReason
from ecgviewer.core.report.fonts import PLACEHOLDER
from tests.core.report.samples import (
    MMPROJ_SHA,
    MODEL_SHA,
    SCAN_SHA,
    Build,
    flat,
    make_case,
    pages_text,
    pdftotext,
    provenance,
    turn,
)

SECTIONS = (
    "ECG Viewer - AI-assisted ECG reading (research use only)",
    "Original scan and preprocessing",
    "Questions and AI answers",
    "Clinician notes (not AI-generated)",
    "Provenance: how the answers were produced",
    "Appendix: full SHA-256 fingerprints",
)


def assert_every_page_marked(pages: list[str]) -> None:
    for number, text in enumerate(pages, start=1):
        page = flat(text)
        assert REPORT_FOOTER in page, f"footer missing on page {number}"
        assert DISCLAIMER in page, f"disclaimer missing on page {number}"
        assert f"Page {number} of {len(pages)}" in page


def test_short_report_has_every_section_and_the_disclaimer_on_every_page(build: Build) -> None:
    path = build(make_case(), reading_time="2025-06-01T10:15:00+02:00")
    pages = pages_text(path)
    text = flat(" ".join(pages))
    for section in SECTIONS:
        assert section in text
    assert "RESEARCH USE ONLY" in flat(pages[0])
    assert "Reading: 2025-06-01T10:15:00+02:00" in text
    assert "Exported: " in text and "ECG Viewer 0.1.0" in text
    assert "Describe this ECG." in text
    assert "Agree with sinus rhythm. Repeat ECG in one week." in text
    assert "1. deskew (angle_deg: -4 - automatic)" in text
    assert "2. crop (box: [0, 0, 2200, 1700] - set by hand)" in text
    assert_every_page_marked(pages)


def test_answers_are_printed_verbatim_with_markup_characters(build: Build) -> None:
    text = flat(pdftotext(build(make_case())))
    assert "**Rhythm:** sinus rhythm, about 72 beats per minute." in text
    assert "# Findings" in text
    assert "- PR interval 160 ms" in text
    assert "* No ST elevation; check <V1> & V2" in text


def test_long_answers_flow_across_pages_with_footer_and_numbers_on_each(build: Build) -> None:
    paragraph = "The rhythm strip shows regular narrow complexes at a steady rate. " * 6
    long_answer = "\n\n".join(f"{n}. {paragraph}" for n in range(1, 31)) + "\nLAST LINE."
    follow_up = turn("And the axis?", "Normal axis.\n" * 40, "eos")
    case = make_case([turn(answer=long_answer), follow_up], notes="Note line.\n" * 60)
    pages = pages_text(build(case))
    assert len(pages) >= 4
    assert_every_page_marked(pages)
    text = flat(" ".join(pages))
    assert "30. The rhythm strip" in text and "LAST LINE." in text
    assert "Question 2" in text and "And the axis?" in text


def test_names_in_greek_cyrillic_and_accented_latin_come_back(build: Build) -> None:
    study = {
        "name": "Zoë Ångström",
        "referring_clinician": "Дмитрий Иванов",
        "indication": "Αλέξανδρος: palpitations, señal irregular",
    }
    case = make_case(study=study, notes="Überprüft von Łukasz Żółć; Ελένη; Ёжиков.")
    path = build(case)
    for text in (flat(pdftotext(path)), flat(" ".join(pages_text(path)))):
        for name in ("Zoë Ångström", "Дмитрий Иванов", "Αλέξανδρος", "señal"):
            assert name in text
        assert "Łukasz Żółć; Ελένη; Ёжиков." in text


def test_characters_the_font_lacks_become_a_visible_placeholder(build: Build) -> None:
    answer = "Normal 心电图 result 😀 done.\x00\x07 End."
    path = build(make_case([turn(answer=answer)], notes="患者 OK"))
    text = flat(pdftotext(path))
    assert f"Normal {PLACEHOLDER}{PLACEHOLDER}{PLACEHOLDER} result {PLACEHOLDER} done." in text
    assert f"{PLACEHOLDER}{PLACEHOLDER} OK" in text
    assert "End." in text


def test_empty_study_fields_are_left_out(build: Build) -> None:
    case = make_case(study={"patient_id": "", "name": "  ", "sex": "M", "indication": ""})
    text = flat(" ".join(pages_text(build(case))))
    assert "Sex: M" in text
    for label in ("Patient ID", "Name:", "Date of birth", "Indication", "Requested by"):
        assert label not in text


def test_no_study_fields_at_all(build: Build) -> None:
    text = flat(" ".join(pages_text(build(make_case(study={})))))
    assert "Patient ID" not in text and "Sex:" not in text
    assert "ecg-0001.png" in text  # the running header names the scan instead


@pytest.mark.parametrize(
    ("stop_reason", "mark"),
    [
        ("cancelled", "INCOMPLETE - stopped by the user"),
        ("length", "INCOMPLETE - reached the token limit"),
        ("interrupted", "INCOMPLETE - interrupted"),
        ("failed", "INCOMPLETE - failed"),
        (None, "INCOMPLETE - still being written"),
    ],
)
def test_incomplete_answers_are_marked(
    build: Build, stop_reason: StopReason | None, mark: str
) -> None:
    case = make_case([turn(), turn("Rate?", "The rate is about", stop_reason)])
    text = flat(" ".join(pages_text(build(case))))
    assert text.count(mark) >= 3  # before the text, after it, and in the timings table
    assert "complete (end of answer)" in text  # the first answer is not marked


def test_complete_answers_are_not_marked(build: Build) -> None:
    text = flat(" ".join(pages_text(build(make_case()))))
    assert "INCOMPLETE" not in text and "INTERRUPTED" not in text


def test_output_of_the_test_model_is_not_called_an_interpretation(build: Build) -> None:
    test_model = provenance(is_ecg_model=False)
    case = make_case([turn(answer="Paris is the capital of France.", prov=test_model)])
    text = flat(" ".join(pages_text(build(case))))
    assert "Output of a non-ECG test model - not an ECG interpretation" in text
    assert "Questions and AI answers" not in text and "AI answer -" not in text
    assert "No - small test model; its output is not an ECG interpretation" in text


def test_provenance_block_and_appendix(build: Build) -> None:
    case = make_case([turn(prov=provenance(fallback_template=True))])
    path = build(case)
    text = flat(" ".join(pages_text(path)))
    assert "medgemma-ecg-Q4_K_M.gguf" in text and "mmproj-medgemma-ecg-F16.gguf" in text
    assert f"{MODEL_SHA[:16]}…" in text and f"{MMPROJ_SHA[:16]}…" in text
    assert "gemma3, Q4_K_M, 2.00 GiB" in text
    assert "medgemma-ecg-4b Q4_K_M" in text  # the known pair from the manifest
    assert "Fallback: built-in Gemma 3 template" in text
    assert "temperature 0, seed 42, at most 512 new tokens" in text
    for timing in ("1.2 s", "5.4 s", "800 ms", "16.7 s", "19.9"):
        assert timing in text
    appendix = flat(pdftotext(path).split("Appendix: full SHA-256 fingerprints")[1])
    for sha256 in (MODEL_SHA, MMPROJ_SHA, SCAN_SHA):
        assert sha256 in appendix.replace(" ", "")


def test_unknown_pair_and_unrecorded_provenance_are_said_plainly(build: Build) -> None:
    unknown = turn()
    unknown.provenance = provenance(is_ecg_model=True).__class__(
        model=provenance().model, mmproj=provenance().mmproj, known_pair=""
    )
    bare = turn("Rate?", "About 70.")
    bare.provenance = None
    bare.decoding = None
    text = flat(" ".join(pages_text(build(make_case([unknown, bare])))))
    assert "No - this pair is not listed in models/manifest.json" in text
    assert "Used for Answer 2 Model not recorded Decoding not recorded" in text


def test_a_case_without_questions_still_prints(build: Build) -> None:
    pages = pages_text(build(make_case([], notes="")))
    text = flat(" ".join(pages))
    assert "No question was asked about this ECG." in text
    assert "No notes were entered." in text
    assert "No model was run for this case." in text
    assert_every_page_marked(pages)


def test_extreme_content_never_breaks_the_layout(build: Build) -> None:
    unbroken = "x" * 3000
    turns = [turn(question="Q line\n" * 120, answer=unbroken + "\nTAIL")]
    turns += [turn(f"Follow-up {n}?", f"Answer {n}.") for n in range(25)]
    case = make_case(turns, study={"name": "A", "indication": "Long history. " * 700})
    pages = pages_text(build(case))
    assert len(pages) >= 8
    assert_every_page_marked(pages)  # including a second landscape page for the ECG
    text = flat(" ".join(pages))
    assert "TAIL" in text and "Follow-up 24?" in text and "Answer 24." in text
