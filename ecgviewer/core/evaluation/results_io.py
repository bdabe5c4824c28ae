"""The results file: one JSON object a line, appended and synced item by item.

Rows have PULSE's output shape (question_id, prompt, text, answer_id, model_id)
plus `gold`, `image` and `timings`. Files written by PULSE itself (`id` /
`response` keys, `prompt` as an object) are read too.

A run killed mid-write leaves at most one incomplete last line; readers skip it
(and say so) and `repair_tail` cuts it off before a resumed run appends.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ecgviewer.core.errors import InputError, StorageError


@dataclass(frozen=True)
class ResultRow:
    """One answered question as read back from a results file."""

    question_id: str
    prompt: str
    text: str
    gold: str | None
    model_id: str = ""
    error: str = ""
    line_no: int = 0
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class ResultsFile:
    """The rows of a results file and the state of its end."""

    path: Path
    rows: list[ResultRow]
    valid_bytes: int  # length of the file up to the end of the last complete row
    truncated_tail: bool  # an incomplete last line (crash or run in progress) was skipped
    needs_newline: bool  # the last row is complete but lacks its line break


def read_results(path: Path) -> ResultsFile:
    """Read every row; an unreadable line other than the last is an `InputError`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"The results file {path} does not exist.") from exc
    except OSError as exc:
        raise InputError(f"Cannot read the results file {path}.") from exc
    rows: list[ResultRow] = []
    offset, line_no = 0, 0
    seen: dict[str, int] = {}
    truncated = needs_newline = False
    while offset < len(data):
        end = data.find(b"\n", offset)
        complete = end >= 0
        chunk = data[offset : end if complete else len(data)]
        line_no += 1
        record = _decode(chunk, path, line_no, last=not complete)
        if record is _INCOMPLETE:
            truncated = True
            break
        if record is not None:
            rows.append(_row(record, path, line_no, seen))
        offset = end + 1 if complete else len(data)
        needs_newline = not complete and record is not None
    return ResultsFile(path, rows, offset, truncated, needs_newline)


_INCOMPLETE: dict[str, Any] = {}


def _decode(chunk: bytes, path: Path, line_no: int, *, last: bool) -> dict[str, Any] | None:
    if not chunk.strip():
        return None
    try:
        value = json.loads(chunk.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        if last:
            return _INCOMPLETE
        raise InputError(f"{path.name}, line {line_no}: not a valid JSON row.") from exc
    if not isinstance(value, dict):
        raise InputError(f"{path.name}, line {line_no}: expected a JSON object.")
    return value


def _row(record: dict[str, Any], path: Path, line_no: int, seen: dict[str, int]) -> ResultRow:
    ident = record.get("question_id", record.get("id"))
    if ident is None:
        raise InputError(f"{path.name}, line {line_no}: the row has no question_id.")
    question_id = str(ident)
    if question_id in seen:
        raise InputError(
            f"{path.name}: question_id {question_id!r} appears twice "
            f"(lines {seen[question_id]} and {line_no})."
        )
    seen[question_id] = line_no
    text = record.get("text", record.get("response", ""))
    gold = record.get("gold")
    return ResultRow(
        question_id=question_id,
        prompt=_prompt_text(record.get("prompt", "")),
        text=text if isinstance(text, str) else "",
        gold=None if gold is None else str(gold),
        model_id=str(record.get("model_id", "")),
        error=str(record.get("error", "")),
        line_no=line_no,
        raw=record,
    )


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, dict):  # PULSE writes {"prompt": ..., ...} in some versions
        prompt = prompt.get("prompt", "")
    return prompt if isinstance(prompt, str) else ""


def repair_tail(results: ResultsFile) -> None:
    """Cut an incomplete last line off and end the last row with a line break."""
    if not results.truncated_tail and not results.needs_newline:
        return
    try:
        with results.path.open("r+b") as handle:
            handle.truncate(results.valid_bytes)
            if results.needs_newline:
                handle.seek(0, os.SEEK_END)
                handle.write(b"\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise StorageError(f"Cannot repair the results file {results.path}.") from exc


def append_row(handle: IO[str], row: dict[str, Any]) -> None:
    """Write one row as a line, flushed and synced so a kill loses at most the next item."""
    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    handle.flush()
    os.fsync(handle.fileno())
