"""Read a prediction (and the gold answer) out of free text, per task.

Each task has two parsers:

* **compatible** reproduces ECGBench's rules, quirks included, so the numbers
  can be set beside published ones (docs/evaluation.md lists every quirk);
* **strict** reads only what is unambiguously there; an answer it cannot read is
  counted wrong instead of being guessed.

Gold answers are read the same way for both (the benchmark's own reading), so
the two scores differ only in how the model's text is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from ecgviewer.core.evaluation.tasks import TaskSpec

LETTERS = "ABCDEFGH"
"""Option letters ECGBench's letter extraction knows (CSN and G12EC have eight options)."""
ANSWER_MARK = "Answer:"
CORRECT_OPTION_MARK = "The correct option is "
OPTIONS_MARK = "Options:"
ECGQA_INSTRUCTION = "Only answer based on the given Options without any explanation."
"""The instruction sentence ECG-QA questions end with; removed before splitting the options."""


@dataclass(frozen=True)
class ParsedAnswer:
    """What a parser read from one answer.

    `labels` holds label codes (multi-label tasks), one letter (multiple choice)
    or the matched options (ECG-QA). `parsed` is False when nothing was read;
    `rule` names the rule that matched, for explanations and tests.
    """

    labels: tuple[str, ...]
    parsed: bool
    rule: str = ""


UNPARSED = ParsedAnswer((), parsed=False)

# --- closed multi-label answers (PTB-XL super, CPSC 2018, CODE-15%) -----------


def gold_labels(gold: str, task: TaskSpec) -> tuple[str, ...]:
    """The labels of a gold answer: every label whose exact string occurs in it.

    CODE-15%: a gold answer that is exactly "NORM" or "ABNORMAL" is that single label.
    """
    text = gold.strip()
    if text in task.whole_answer_labels:
        return (text,)
    return tuple(label for label in _plain_labels(task) if label in gold)


def parse_labels_compatible(text: str, task: TaskSpec) -> ParsedAnswer:
    """ECGBench's reading: a label is predicted when its string occurs anywhere, case-sensitive.

    Side effects are kept on purpose: "ST" is found inside "STTC", "STD" or
    "ST-elevation"; "NORM" inside "NORMAL" and "ABNORMAL". For CODE-15% the text
    after the last "Answer:" is read, and "ABNORMAL" (else "NORM") anywhere in it
    adds that label.
    """
    if task.cut_after_answer:
        text = text.rsplit(ANSWER_MARK, maxsplit=1)[-1]
    found = [label for label in _plain_labels(task) if label in text]
    if task.whole_answer_labels:
        found = list(_code15_marker(text)) + found
    return ParsedAnswer(tuple(found), parsed=bool(found), rule="substring")


def parse_labels_strict(text: str, task: TaskSpec) -> ParsedAnswer:
    """A label is predicted only as a whole token (no letter, digit or '-' touching it)."""
    if task.cut_after_answer:
        text = text.rsplit(ANSWER_MARK, maxsplit=1)[-1]
    found = tuple(label for label in task.labels if _token_pattern(label).search(text))
    return ParsedAnswer(found, parsed=bool(found), rule="token")


def _plain_labels(task: TaskSpec) -> tuple[str, ...]:
    return tuple(label for label in task.labels if label not in task.whole_answer_labels)


def _code15_marker(text: str) -> tuple[str, ...]:
    # "NORM" is a substring of "ABNORMAL", hence the order.
    if "ABNORMAL" in text:
        return ("ABNORMAL",)
    if "NORM" in text:
        return ("NORM",)
    return ()


@cache
def _token_pattern(label: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9-]){re.escape(label)}(?![A-Za-z0-9-])")


# --- multiple choice (MMMU-ECG, CSN, G12EC) -----------------------------------

_OPTION_MARKER = re.compile(r"(?<![A-Za-z0-9])\(?([A-H])[.)](?=\s|$)")
_STRICT_STATEMENT = re.compile(
    r"(?i:answer\s*(?:is\b|:)|option\s+is\b)\s*:?\s*\(?([A-H])(?![A-Za-z0-9])"
)
_STRICT_WHOLE = re.compile(r"\(?([A-H])\)?[.:]?")
_STRICT_LEADING = re.compile(r"\(?([A-H])[.):](?:\s|$)")


def option_letters(question: str) -> str:
    """The option letters a question offers: "ABCD" when it lists A-D, else all eight.

    Options are recognised as "A." or "A)" markers; only a run starting at A counts.
    """
    found = {match.group(1) for match in _OPTION_MARKER.finditer(question)}
    count = len(found)
    if count >= 2 and found == set(LETTERS[:count]):
        return LETTERS[:count]
    return LETTERS


def gold_letter(gold: str) -> str | None:
    """The gold option letter: the first character of the gold answer, if it is one."""
    first = gold.strip()[:1]
    return first if first and first in LETTERS else None


def parse_letter_compatible(text: str) -> ParsedAnswer:
    """ECGBench's letter extraction; the first rule that matches wins.

    1. the whole answer is one letter A-H;
    2. "X." occurs anywhere, trying A., B., ... H. in that order (letter order,
       not position: "B. ... A." gives A; "RBBB." gives B);
    3. "The correct option is " occurs: the character right after its last
       occurrence, if a letter; otherwise the answer is unparsed (rule 4 is not tried);
    4. "Answer:" occurs: in the text after its last occurrence, the first of
       A, B, ... H (letter order) found anywhere, even inside a word
       ("Answer: Based on ..." gives B).
    """
    if len(text) == 1 and text in LETTERS:
        return ParsedAnswer((text,), parsed=True, rule="1")
    for letter in LETTERS:
        if f"{letter}." in text:
            return ParsedAnswer((letter,), parsed=True, rule="2")
    if CORRECT_OPTION_MARK in text:
        rest = text.rsplit(CORRECT_OPTION_MARK, maxsplit=1)[-1]
        if rest[:1] and rest[0] in LETTERS:
            return ParsedAnswer((rest[0],), parsed=True, rule="3")
        return UNPARSED
    if ANSWER_MARK in text:
        rest = text.rsplit(ANSWER_MARK, maxsplit=1)[-1].strip()
        for letter in LETTERS:
            if letter in rest:
                return ParsedAnswer((letter,), parsed=True, rule="4")
    return UNPARSED


def parse_letter_strict(text: str, letters: str = LETTERS) -> ParsedAnswer:
    """Read a letter only where it stands alone as an answer, and only one that is offered.

    In order: the whole answer is a letter ("B", "(B)", "B."); the last explicit
    statement ("Answer: B", "the answer is (B)", "correct option is B"); an
    answer that starts with an option marker ("B. Sinus rhythm").
    """
    stripped = text.strip()
    whole = _STRICT_WHOLE.fullmatch(stripped)
    statements = _STRICT_STATEMENT.findall(stripped)
    leading = _STRICT_LEADING.match(stripped)
    for letter, rule in (
        (whole.group(1) if whole else None, "whole"),
        (statements[-1] if statements else None, "statement"),
        (leading.group(1) if leading else None, "leading"),
    ):
        if letter is not None:
            if letter in letters:
                return ParsedAnswer((letter,), parsed=True, rule=rule)
            return UNPARSED
    return UNPARSED


# --- ECG-QA: options listed in the question -----------------------------------


def ecgqa_candidates(prompt: str) -> list[str]:
    """ECGBench's candidates: the text after the last "Options:", instruction removed,
    split on commas and stripped. Without "Options:" the whole prompt is split."""
    listed = prompt.rsplit(OPTIONS_MARK, maxsplit=1)[-1].replace(ECGQA_INSTRUCTION, "")
    return [candidate.strip() for candidate in listed.split(",")]


def parse_options_compatible(text: str, prompt: str) -> ParsedAnswer:
    """Every candidate whose lower-cased text occurs anywhere in the lower-cased answer."""
    lowered = text.lower()
    found = tuple(c for c in ecgqa_candidates(prompt) if c.lower() in lowered)
    return ParsedAnswer(found, parsed=any(found), rule="substring")


def options_match_compatible(found: tuple[str, ...], gold: str) -> bool:
    """ECGBench's correctness test: the *characters* of the joined matches equal the
    characters of the gold answer (a set of characters, not of options)."""
    return set("".join(found)) == set(gold)


def parse_options_strict(text: str, prompt: str) -> ParsedAnswer:
    """Options (normalised) that occur as whole words in the lower-cased answer."""
    if OPTIONS_MARK not in prompt:
        return UNPARSED
    options = normalised_options(ecgqa_candidates(prompt))
    lowered = text.lower()
    found = tuple(sorted(o for o in options if _word_pattern(o).search(lowered)))
    return ParsedAnswer(found, parsed=bool(found), rule="word")


def gold_options(gold: str) -> frozenset[str]:
    """The gold answer as a set of normalised options (split on commas)."""
    return frozenset(normalised_options(gold.split(",")))


def normalised_options(options: list[str]) -> set[str]:
    """Lower-cased options without surrounding spaces or a final full stop; blanks dropped."""
    cleaned = (option.strip().rstrip(".").strip().lower() for option in options)
    return {option for option in cleaned if option}


@cache
def _word_pattern(option: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(option)}(?![\w-])")
