"""The ECGBench tasks this evaluation mode can score, and their label spaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ecgviewer.core.errors import InputError

TaskKind = Literal["multilabel", "mcq", "ecgqa"]


@dataclass(frozen=True)
class TaskSpec:
    """One way of scoring answers: its name, kind and (closed) label space."""

    name: str
    kind: TaskKind
    title: str
    labels: tuple[str, ...] = ()
    cut_after_answer: bool = False  # CODE-15%: keep only the text after the last "Answer:"
    whole_answer_labels: tuple[str, ...] = ()  # CODE-15%: NORM / ABNORMAL special cases
    question: str = ""  # asked when the set brings no question of its own (PTB-XL folders)


PTBXL_SUPER_QUESTION = (
    "Which diagnostic super-classes does this 12-lead ECG show? "
    "Options: NORM (normal ECG), MI (myocardial infarction), STTC (ST/T change), "
    "CD (conduction disturbance), HYP (hypertrophy). "
    "Answer with every class that applies, separated by commas."
)
"""Our wording (ECGBench's own question text is not public): the labels are named exactly
as the compatible parser looks for them, and nothing in it is scored."""


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "ptb-xl-super",
            "multilabel",
            "PTB-XL super-class",
            labels=("NORM", "MI", "STTC", "CD", "HYP"),
            question=PTBXL_SUPER_QUESTION,
        ),
        TaskSpec(
            "cpsc",
            "multilabel",
            "CPSC 2018",
            labels=("NORM", "AF", "I-AVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE"),
        ),
        TaskSpec(
            "code15",
            "multilabel",
            "CODE-15%",
            labels=("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF", "NORM", "ABNORMAL"),
            cut_after_answer=True,
            whole_answer_labels=("NORM", "ABNORMAL"),
        ),
        TaskSpec("mcq", "mcq", "Multiple choice (MMMU-ECG, CSN, G12EC)"),
        TaskSpec("ecgqa", "ecgqa", "ECG-QA"),
    )
}
"""Every task by its command-line name."""


def get_task(name: str) -> TaskSpec:
    """Return the task called `name`, or raise `InputError` naming the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        known = ", ".join(TASKS)
        raise InputError(
            f"Unknown evaluation task {name!r}.", hint=f"Use one of: {known}."
        ) from None
