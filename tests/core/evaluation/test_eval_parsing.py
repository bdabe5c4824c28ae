"""Every parser rule, compatible and strict, with hand-made answers."""

from __future__ import annotations

import pytest

from ecgviewer.core.errors import InputError
from ecgviewer.core.evaluation import parsing
from ecgviewer.core.evaluation.tasks import TASKS, TaskSpec, get_task

PTB = TASKS["ptb-xl-super"]
CPSC = TASKS["cpsc"]
CODE15 = TASKS["code15"]


def compat(text: str, task: TaskSpec = PTB) -> tuple[str, ...]:
    return parsing.parse_labels_compatible(text, task).labels


def strict(text: str, task: TaskSpec = PTB) -> tuple[str, ...]:
    return parsing.parse_labels_strict(text, task).labels


# --- tasks ------------------------------------------------------------------------


def test_label_spaces_are_the_protocols() -> None:
    assert PTB.labels == ("NORM", "MI", "STTC", "CD", "HYP")
    assert CPSC.labels == ("NORM", "AF", "I-AVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE")
    assert CODE15.labels[:6] == ("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF")
    assert set(CODE15.whole_answer_labels) == {"NORM", "ABNORMAL"}


def test_unknown_task_is_an_input_error_naming_the_known_ones() -> None:
    with pytest.raises(InputError, match="ptb-xl-super"):
        get_task("ptbxl")


# --- closed multi-label: compatible -------------------------------------------------


def test_label_found_anywhere_as_exact_substring() -> None:
    assert compat("The ECG shows MI and CD.") == ("MI", "CD")
    assert parsing.parse_labels_compatible("MI", PTB).parsed


def test_labels_are_case_sensitive() -> None:
    assert compat("norm, mi, sttc") == ()
    assert not parsing.parse_labels_compatible("norm", PTB).parsed


def test_norm_found_inside_normal_and_abnormal_side_effect() -> None:
    assert compat("NORMAL sinus rhythm") == ("NORM",)
    assert compat("ABNORMAL ECG") == ("NORM",)


def test_st_found_inside_sttc_and_std_for_code15() -> None:
    assert "ST" in compat("STTC", CODE15)
    assert "ST" in compat("STD", CODE15)
    assert "ST" in compat("ST-elevation", CODE15)


def test_label_prefix_side_effects_in_cpsc() -> None:
    # "AF" occurs in "AFL"; both "STD" and "STE" are separate labels.
    assert compat("AFL, STD", CPSC) == ("AF", "STD")


def test_code15_reads_only_after_the_last_answer_marker() -> None:
    text = "Findings: RBBB? Answer: LBBB. On reflection, Answer: AF"
    assert compat(text, CODE15) == ("AF",)
    assert compat("RBBB", CODE15) == ("RBBB",)  # no marker: whole text


def test_other_tasks_do_not_cut_after_answer() -> None:
    assert compat("MI. Answer: CD") == ("MI", "CD")


def test_code15_abnormal_wins_over_norm() -> None:
    assert compat("ABNORMAL", CODE15) == ("ABNORMAL",)
    assert compat("NORM", CODE15) == ("NORM",)
    assert compat("ABNORMAL, but NORM axis", CODE15) == ("ABNORMAL",)
    assert compat("ABNORMAL: RBBB", CODE15) == ("ABNORMAL", "RBBB")


def test_code15_marker_is_read_after_the_cut() -> None:
    assert compat("ABNORMAL? Answer: NORM", CODE15) == ("NORM",)


# --- closed multi-label: strict -----------------------------------------------------


def test_strict_needs_whole_tokens() -> None:
    assert strict("STTC", CODE15) == ()
    assert strict("STD", CODE15) == ()
    assert strict("ST-elevation", CODE15) == ()
    assert strict("ST, AF", CODE15) == ("ST", "AF")
    assert strict("NORMAL sinus rhythm") == ()
    assert strict("I-AVB and PAC.", CPSC) == ("I-AVB", "PAC")


def test_strict_abnormal_does_not_contain_norm() -> None:
    assert strict("ABNORMAL", CODE15) == ("ABNORMAL",)
    assert strict("NORM", CODE15) == ("NORM",)


def test_strict_code15_also_cuts_after_the_last_answer() -> None:
    assert strict("RBBB. Answer: AF", CODE15) == ("AF",)


def test_strict_is_case_sensitive_and_reports_unparsed() -> None:
    parsed = parsing.parse_labels_strict("norm", PTB)
    assert parsed.labels == () and not parsed.parsed


# --- gold labels ---------------------------------------------------------------------


def test_gold_labels_use_the_substring_rule() -> None:
    assert parsing.gold_labels("MI, STTC", PTB) == ("MI", "STTC")
    assert parsing.gold_labels("RBBB, ST", CODE15) == ("RBBB", "ST")


def test_code15_gold_norm_and_abnormal_are_whole_answers() -> None:
    assert parsing.gold_labels("NORM", CODE15) == ("NORM",)
    assert parsing.gold_labels("ABNORMAL", CODE15) == ("ABNORMAL",)
    assert parsing.gold_labels(" NORM\n", CODE15) == ("NORM",)
    # Not the whole answer: only the six rhythm/conduction labels are read.
    assert parsing.gold_labels("NORM, RBBB", CODE15) == ("RBBB",)


# --- multiple choice: compatible ------------------------------------------------------


def letter(text: str) -> tuple[str | None, str]:
    parsed = parsing.parse_letter_compatible(text)
    return (parsed.labels[0] if parsed.parsed else None), parsed.rule


def test_rule1_whole_answer_is_one_letter() -> None:
    assert letter("C") == ("C", "1")
    assert letter("c") == (None, "")  # case-sensitive, and no other rule applies


def test_rule2_option_marker_anywhere() -> None:
    assert letter("I choose D. It fits") == ("D", "2")


def test_rule2_tries_letters_in_alphabetical_order_not_position() -> None:
    assert letter("B. looks right, A. does not") == ("A", "2")


def test_rule2_fires_inside_words_ending_a_sentence() -> None:
    assert letter("Right bundle branch block: RBBB. Answer: D") == ("B", "2")


def test_rule3_correct_option_phrase() -> None:
    assert letter("The correct option is E, given the rhythm") == ("E", "3")


def test_rule3_uses_the_last_occurrence() -> None:
    assert letter("The correct option is F? No: The correct option is G") == ("G", "3")


def test_rule3_without_a_letter_is_unparsed_and_skips_rule4() -> None:
    assert letter("The correct option is unclear; Answer: C") == (None, "")
    assert letter("The correct option is ") == (None, "")


def test_rule4_first_letter_after_answer_even_inside_a_word() -> None:
    assert letter("Answer: Based on the ECG findings") == ("B", "4")


def test_rule4_letter_order_not_position() -> None:
    # E appears first by position ("ECG"), but C comes first alphabetically.
    assert letter("Answer: the ECG is normal") == ("C", "4")


def test_rule4_uses_text_after_the_last_answer() -> None:
    assert letter("Answer: A? Let me check. Answer: the H wave") == ("H", "4")


def test_nothing_matches_is_unparsed() -> None:
    assert letter("I cannot tell from this image") == (None, "")


# --- multiple choice: strict -------------------------------------------------------------


def strict_letter(text: str, letters: str = "ABCD") -> str | None:
    parsed = parsing.parse_letter_strict(text, letters)
    return parsed.labels[0] if parsed.parsed else None


def test_strict_answer_based_on_is_unparsed() -> None:
    assert strict_letter("Answer: Based on the ECG findings") is None


@pytest.mark.parametrize("text", ["B", " B\n", "(B)", "B.", "B)"])
def test_strict_whole_answer_letter(text: str) -> None:
    assert strict_letter(text) == "B"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: C", "C"),
        ("The answer is (D).", "D"),
        ("the correct option is A", "A"),
        ("Answer: Based on the rhythm, the answer is C.", "C"),
    ],
)
def test_strict_explicit_statement(text: str, expected: str) -> None:
    assert strict_letter(text) == expected


def test_strict_leading_option_marker() -> None:
    assert strict_letter("B. Sinus rhythm with first-degree AV block") == "B"


def test_strict_rejects_letters_not_offered() -> None:
    assert strict_letter("F", letters="ABCD") is None
    assert strict_letter("F", letters=parsing.LETTERS) == "F"


def test_strict_ignores_letters_inside_words() -> None:
    assert strict_letter("RBBB. Definitely.") is None


def test_option_letters_from_the_question() -> None:
    question = "Which rhythm?\nA. Sinus\nB. AF\nC. Flutter\nD. SVT"
    assert parsing.option_letters(question) == "ABCD"
    assert parsing.option_letters("Which rhythm? Options: (A) x (B) y") == "AB"
    # Not a run from A, a single marker, or none at all: all eight letters.
    assert parsing.option_letters("A. first C. third") == parsing.LETTERS
    assert parsing.option_letters("Vitamin D. deficiency?") == parsing.LETTERS
    assert parsing.option_letters("No options listed") == parsing.LETTERS


def test_gold_letter_is_the_first_character() -> None:
    assert parsing.gold_letter("B") == "B"
    assert parsing.gold_letter("C. Atrial flutter") == "C"
    assert parsing.gold_letter("none") is None


# --- ECG-QA -----------------------------------------------------------------------------------

QA_PROMPT = (
    "Does this ECG show sinus rhythm? Options: yes, no, not sure. "
    "Only answer based on the given Options without any explanation."
)
LEADS_PROMPT = "Which leads show ST elevation? Options: I, II, III, aVR"


def test_candidates_split_after_options_with_instruction_removed() -> None:
    assert parsing.ecgqa_candidates(QA_PROMPT) == ["yes", "no", "not sure."]


def test_candidates_without_options_marker_split_the_whole_prompt() -> None:
    assert parsing.ecgqa_candidates("Is it yes, or no") == ["Is it yes", "or no"]


def test_compatible_options_are_lowercased_substrings() -> None:
    assert parsing.parse_options_compatible("No.", QA_PROMPT).labels == ("no",)
    # Substring side effect: "no" occurs inside "not sure".
    assert parsing.parse_options_compatible("Not sure", QA_PROMPT).labels == ("no",)
    assert parsing.parse_options_compatible("II", LEADS_PROMPT).labels == ("I", "II")


def test_compatible_match_compares_character_sets() -> None:
    assert parsing.options_match_compatible(("no",), "no")
    assert parsing.options_match_compatible(("no",), "on")  # quirk: same characters
    assert parsing.options_match_compatible(("I", "II"), "II")  # quirk: {"I"} both
    assert not parsing.options_match_compatible((), "no")


def test_unparsed_when_no_option_found() -> None:
    assert not parsing.parse_options_compatible("maybe", QA_PROMPT).parsed
    assert not parsing.parse_options_strict("maybe", QA_PROMPT).parsed


def test_strict_options_are_whole_words_normalised() -> None:
    assert parsing.parse_options_strict("Not sure", QA_PROMPT).labels == ("not sure",)
    assert parsing.parse_options_strict("II", LEADS_PROMPT).labels == ("ii",)
    assert parsing.parse_options_strict("I and aVR", LEADS_PROMPT).labels == ("avr", "i")


def test_strict_without_options_is_unparsed() -> None:
    assert not parsing.parse_options_strict("yes", "Is this normal?").parsed


def test_gold_options_are_a_normalised_set() -> None:
    assert parsing.gold_options("II, aVR") == frozenset({"ii", "avr"})
    assert parsing.gold_options("Not sure.") == frozenset({"not sure"})
