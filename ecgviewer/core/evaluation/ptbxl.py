"""PTB-XL as an evaluation set: its own folder, labelled and drawn here, no listing needed.

`ecgviewer eval run PTBXL_FOLDER --task ptb-xl-super` reads the two tables PTB-XL
ships (`ptbxl_database.csv`, `scp_statements.csv`), takes one fold (10, the test
fold, by default), gives each record the diagnostic super-classes its SCP codes
map to, and asks the `ptb-xl-super` question about a page drawn from the record
(`digital.render.render_page`, default settings) just before the model answers.

Label rule (Wagner et al. 2020, the PTB-XL example code; Strodthoff et al. 2021,
the PTB-XL benchmark's "superdiagnostic" labels): every SCP code of the record
that `scp_statements.csv` marks diagnostic (diagnostic == 1) adds its
`diagnostic_class`, whatever its likelihood (0 included); a record with no such
code has no super-class and is left out.

Signals: the 500 Hz record (`filename_hr`) when its files are there, else the
100 Hz one (`filename_lr`); see docs/evaluation.md for why.
"""

from __future__ import annotations

import ast
import csv
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecgviewer.core.errors import ImageError, InputError, StorageError
from ecgviewer.core.evaluation.datasets import EvalItem, listed
from ecgviewer.core.evaluation.tasks import get_task

if TYPE_CHECKING:
    from ecgviewer.core.evaluation.runner import AnswerFn
    from ecgviewer.core.evaluation.session import EvalRunRequest

DATABASE = "ptbxl_database.csv"
STATEMENTS = "scp_statements.csv"
SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")
TASK = "ptb-xl-super"
DEFAULT_FOLD = 10  # PTB-XL's recommended test fold (strat_fold 10)
FOLDS = tuple(range(1, 11))
_MAX_LISTED = 5
LABEL_RULE = (
    "every SCP code marked diagnostic in scp_statements.csv, whatever its likelihood, "
    "adds its diagnostic_class; records without one are left out"
)
FIRST_COLUMN = "\0first"  # scp_statements.csv's index column has no name


@dataclass(frozen=True)
class PtbxlRecord:
    """One record of the chosen fold with its super-classes and the signal to draw."""

    ecg_id: str
    labels: tuple[str, ...]  # in SUPERCLASSES order
    record_ref: str  # as the database names it: records500/00000/00001_hr
    header: Path  # its .hea file
    line: int  # in ptbxl_database.csv


@dataclass(frozen=True)
class PtbxlSelection:
    """The records of one fold, and what was left out or substituted."""

    records: tuple[PtbxlRecord, ...]
    fold: int
    in_fold: int  # rows of the database in the fold
    dropped: tuple[str, ...]  # ecg_ids without a diagnostic super-class
    low_rate: tuple[str, ...]  # ecg_ids drawn from the 100 Hz file (no 500 Hz one)


def is_ptbxl_folder(path: Path) -> bool:
    """True for a folder holding PTB-XL's two tables (the records may lie below it)."""
    return path.is_dir() and (path / DATABASE).is_file() and (path / STATEMENTS).is_file()


# --- labels -------------------------------------------------------------------------


def read_superclass_map(statements: Path) -> dict[str, str]:
    """SCP code -> diagnostic super-class, for every statement marked diagnostic."""
    mapping: dict[str, str] = {}
    for row, line in _csv_rows(statements, ("diagnostic", "diagnostic_class")):
        code = row[FIRST_COLUMN].strip()  # the index column: the SCP code
        if _is_one(row["diagnostic"]) and row["diagnostic_class"].strip() in SUPERCLASSES:
            mapping[code] = row["diagnostic_class"].strip()
        elif _is_one(row["diagnostic"]) and row["diagnostic_class"].strip():
            raise InputError(f"{statements.name}, line {line}: unknown diagnostic class "
                             f"{row['diagnostic_class']!r} for {code}.")  # fmt: skip
    if not mapping:
        raise InputError(f"{statements.name} marks no SCP statement as diagnostic.")
    return mapping


def _is_one(value: str) -> bool:
    try:
        return float(value) == 1.0
    except ValueError:  # empty: not diagnostic (pandas reads it as NaN)
        return False


def parse_scp_codes(text: str, where: str) -> dict[str, float]:
    """The `scp_codes` cell, a Python dict literal such as "{'NORM': 100.0, 'SR': 0.0}"."""
    try:
        value = ast.literal_eval(text.strip())  # a literal only: never eval()
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise InputError(f"{where}: scp_codes is not a dictionary ({text[:60]!r}).") from exc
    if not isinstance(value, dict) or not all(
        isinstance(code, str) and isinstance(score, int | float) for code, score in value.items()
    ):
        raise InputError(f"{where}: scp_codes must map SCP codes to likelihoods ({text[:60]!r}).")
    return {code: float(score) for code, score in value.items()}


def superclasses(scp_codes: Mapping[str, float], mapping: Mapping[str, str]) -> tuple[str, ...]:
    """The super-classes of a record's SCP codes, in SUPERCLASSES order; likelihood ignored."""
    found = {mapping[code] for code in scp_codes if code in mapping}
    return tuple(label for label in SUPERCLASSES if label in found)


def gold_answer(labels: Sequence[str]) -> str:
    """The gold text scored by the ptb-xl-super parser: "MI, STTC"."""
    return ", ".join(labels)


# --- the fold's records ----------------------------------------------------------------


def select_records(folder: Path, *, fold: int = DEFAULT_FOLD) -> PtbxlSelection:
    """The labelled records of `fold` in database order, each with the signal file to draw."""
    if fold not in FOLDS:
        raise InputError(f"There is no PTB-XL fold {fold}.", hint="Use --fold 1 to 10.")
    mapping = read_superclass_map(folder / STATEMENTS)
    records: list[PtbxlRecord] = []
    dropped: list[str] = []
    low_rate: list[str] = []
    in_fold = 0
    columns = ("ecg_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr")
    for row, line in _csv_rows(folder / DATABASE, columns):
        if _fold_of(row["strat_fold"], line) != fold:
            continue
        in_fold += 1
        where = f"{DATABASE}, line {line}"
        labels = superclasses(parse_scp_codes(row["scp_codes"], where), mapping)
        if not labels:
            dropped.append(row["ecg_id"].strip())
            continue
        record = _record(folder, row, labels, line)
        if record.record_ref != row["filename_hr"].strip():
            low_rate.append(record.ecg_id)
        records.append(record)
    return PtbxlSelection(tuple(records), fold, in_fold, tuple(dropped), tuple(low_rate))


def _fold_of(value: str, line: int) -> int:
    try:
        return int(float(value))
    except ValueError:
        raise InputError(f"{DATABASE}, line {line}: strat_fold {value!r} is no number.") from None


def _record(folder: Path, row: Mapping[str, str], labels: tuple[str, ...], line: int
            ) -> PtbxlRecord:  # fmt: skip
    refs = [row["filename_hr"].strip(), row["filename_lr"].strip()]
    if not any(refs):
        raise InputError(f"{DATABASE}, line {line}: the record has no file name.")
    present = [ref for ref in refs if ref and _has_files(folder / ref)]
    chosen = present[0] if present else refs[0] or refs[1]
    return PtbxlRecord(
        ecg_id=row["ecg_id"].strip(), labels=labels, record_ref=chosen,
        header=folder / f"{chosen}.hea", line=line,
    )  # fmt: skip


def _has_files(base: Path) -> bool:
    return (
        base.with_name(base.name + ".hea").is_file()
        and base.with_name(base.name + ".dat").is_file()
    )


def _csv_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[dict[str, str], int]]:
    """Rows as dicts (the first column also under FIRST_COLUMN) with their line numbers."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            missing = [name for name in required if name not in header]
            if missing or not header:
                raise InputError(f"{path.name} lacks the column(s) {', '.join(missing)}.",
                                 hint="Is this PTB-XL's own file, unchanged?")  # fmt: skip
            for row in reader:
                data = {key: value or "" for key, value in row.items() if key is not None}
                yield {**data, FIRST_COLUMN: data.get(header[0], "")}, reader.line_num
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path}.") from exc


# --- as evaluation items -------------------------------------------------------------


def load_ptbxl(
    folder: Path, *, fold: int = DEFAULT_FOLD, task: str | None = None, check_files: bool = True,
    note: Callable[[str], None] | None = None,
) -> list[EvalItem]:  # fmt: skip
    """The fold's records as `EvalItem`s whose image is drawn from the signal when answered.

    `question_id` is the record's `ecg_id`; `image_ref` its record path in the
    database; the question is the ptb-xl-super task's. With `check_files`, every
    record's header and signal file must be there before a long run starts.
    `note` receives what was left out or substituted (see `selection_notes`).
    """
    if task is not None and task != TASK:
        raise InputError(f"A PTB-XL folder is scored with --task {TASK}, not {task}.")
    selection = select_records(folder, fold=fold)
    if not selection.records:
        raise InputError(f"PTB-XL fold {fold} in {folder} holds no record with a super-class.")
    if check_files:
        _check_records(selection.records)
    if note is not None:
        for line in selection_notes(selection):
            note(line)
    question = get_task(TASK).question
    return [_item(record, question) for record in selection.records]


def selection_notes(selection: PtbxlSelection) -> list[str]:
    """Say how many records of the fold are asked about, which were left out or drawn at 100 Hz."""
    count = len(selection.records)
    notes = [
        f"PTB-XL fold {selection.fold}: {count:,} of {selection.in_fold:,} records have a "
        f"diagnostic super-class and are asked about; {len(selection.dropped):,} without one "
        "are left out, as in the PTB-XL benchmark."
    ]
    if selection.low_rate:
        shown = ", ".join(selection.low_rate[:_MAX_LISTED])
        more = " ..." if len(selection.low_rate) > _MAX_LISTED else ""
        notes.append(
            f"{len(selection.low_rate):,} record(s) drawn from the 100 Hz files because their "
            f"500 Hz files are missing (ecg_id {shown}{more})."
        )
    return notes


def _item(record: PtbxlRecord, question: str) -> EvalItem:
    return EvalItem(
        question_id=record.ecg_id, image_path=record.header, question=question,
        gold=gold_answer(record.labels), image_ref=record.record_ref,
        where=f"ecg_id {record.ecg_id} ({DATABASE}, line {record.line})", from_signal=True,
    )  # fmt: skip


def _check_records(records: Sequence[PtbxlRecord]) -> None:
    missing = [r for r in records if not _has_files(r.header.with_suffix(""))]
    if not missing:
        return
    shown = listed([f"ecg_id {r.ecg_id}: {r.record_ref}" for r in missing])
    raise InputError(
        f"{len(missing)} PTB-XL record(s) not found ({shown}).",
        hint="Each needs its .hea and .dat file (records500 or records100) below the folder.",
    )


# --- the image step: draw the page, then answer --------------------------------------


class RecordPages:
    """Wraps an `AnswerFn`: an item whose image is a recording is drawn on a page first.

    The page (render_page, default settings) is written as a PNG to a private
    temporary folder, answered about like any image file, and deleted. A record
    that cannot be read or drawn raises `ImageError`, which the run records and
    passes. Runs on the run's thread, or on several at once (one file per item);
    `cancel()` from any thread, as the wrapped one.
    """

    def __init__(self, inner: AnswerFn) -> None:
        from ecgviewer.core.digital.render_settings import RenderSettings

        self._inner = inner
        self.settings = RenderSettings()
        self._folder = tempfile.TemporaryDirectory(prefix="ecgviewer-pages-")

    def __call__(self, item: EvalItem) -> tuple[str, dict[str, Any]]:
        if not item.from_signal:
            return self._inner(item)
        start = time.perf_counter()
        page = self._draw(item)
        draw_ms = round((time.perf_counter() - start) * 1000.0, 1)
        try:
            text, timings = self._inner(replace(item, image_path=page, from_signal=False))
        finally:
            page.unlink(missing_ok=True)
        return text, {**timings, "draw_ms": draw_ms}

    def _draw(self, item: EvalItem) -> Path:
        from ecgviewer.core.digital.readers import read_record
        from ecgviewer.core.digital.render import render_page

        try:
            image = render_page(read_record(item.image_path), self.settings).image
        except InputError as exc:  # DigitalEcgError: unreadable or undrawable record
            raise ImageError(f"{item.image_ref}: {exc}") from exc
        target = Path(self._folder.name) / f"{item.question_id}.png"
        try:
            image.save(target, compress_level=1)  # deleted after the answer: favour speed
        except OSError as exc:
            raise StorageError(f"Cannot write the drawn page of {item.image_ref}.") from exc
        return target

    def describe(self) -> dict[str, Any]:
        """How the pages were drawn, for the run description."""
        return {"drawn_from": "signal", "render_settings": self.settings.as_json()}

    def cancel(self) -> None:
        """Any thread: stop the wrapped answer function's answer in progress."""
        cancel = getattr(self._inner, "cancel", None)
        if callable(cancel):
            cancel()

    def close(self) -> None:
        """Close the wrapped answer function and remove the temporary folder."""
        try:
            close = getattr(self._inner, "close", None)
            if callable(close):
                close()
        finally:
            self._folder.cleanup()


def with_pages(items: Sequence[EvalItem], answer_fn: AnswerFn) -> AnswerFn:
    """`answer_fn`, wrapped in `RecordPages` when some item is drawn from a recording."""
    return RecordPages(answer_fn) if any(item.from_signal for item in items) else answer_fn


def run_meta_extra(request: EvalRunRequest, answer_fn: object) -> dict[str, Any]:
    """What the run description adds for drawn pages: renderer settings and the PTB-XL fold."""
    if not isinstance(answer_fn, RecordPages):
        return {}
    extra: dict[str, Any] = {"images": answer_fn.describe()}
    if is_ptbxl_folder(Path(request.dataset)):
        fold = DEFAULT_FOLD if request.fold is None else request.fold
        extra["ptbxl"] = {"fold": fold, "label_rule": LABEL_RULE}
    return extra
