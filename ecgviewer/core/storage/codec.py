"""Turning the domain model (`core.case`) into row values and back.

Nested records (timings, provenance, decoding settings, steps, study fields)
are JSON columns. Python's JSON writes floats with `repr`, so every float in
the preprocessing steps reads back bit-identical and re-applying the steps
gives the same pixels. Unknown keys from a newer writer are ignored on read.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, fields
from typing import Any, TypeVar, cast, get_args

from ecgviewer.core.case import (
    Case,
    DecodingSettings,
    ModelIdentity,
    Provenance,
    SourceInfo,
    StopReason,
    Timings,
    Turn,
)

INTERRUPTED: StopReason = "interrupted"
_STOP_REASONS = frozenset(get_args(StopReason))
_T = TypeVar("_T")


def dump(value: Any) -> str:
    """JSON text for a column (keys kept in their order, non-ASCII kept readable)."""
    return json.dumps(value, ensure_ascii=False)


def case_values(case: Case) -> dict[str, Any]:
    """The `cases` row for a case (without its id)."""
    source = case.source
    return {
        "source_sha256": source.sha256,
        "source_path": source.path,
        "source_name": source.name,
        "source_page": source.page,
        "source_page_count": source.page_count,
        "source_format": source.format,
        "steps_json": dump(case.steps),
        "notes": case.notes,
        "study_json": dump(case.study),
        "created_at": case.created_at,
        "updated_at": case.updated_at,
    }


def turn_values(turn: Turn) -> dict[str, Any]:
    """The `turns` columns a turn's own fields fill (not id, case or position)."""
    return {
        "question": turn.question,
        "answer": turn.answer,
        "stop_reason": turn.stop_reason,
        "prompt_preset": turn.prompt_preset,
        "prompt_version": turn.prompt_version,
        "started_at": turn.started_at,
        "finished_at": turn.finished_at,
        "timings_json": dump(turn.timings.to_json()),
        "provenance_json": None if turn.provenance is None else dump(asdict(turn.provenance)),
        "decoding_json": None if turn.decoding is None else dump(asdict(turn.decoding)),
    }


def case_from_row(row: sqlite3.Row, thread: list[Turn], pdfs: list[str]) -> Case:
    """Rebuild a `Case` from its row, its turns in order and its exported PDFs."""
    source = SourceInfo(
        path=row["source_path"],
        name=row["source_name"],
        page=row["source_page"],
        page_count=row["source_page_count"],
        sha256=row["source_sha256"],
        format=row["source_format"],
    )
    return Case(
        source=source,
        steps=json.loads(row["steps_json"]),
        thread=thread,
        notes=row["notes"],
        study=json.loads(row["study_json"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        exported_pdfs=pdfs,
        case_id=row["id"],
    )


def turn_from_row(row: sqlite3.Row, *, streaming: bool) -> Turn:
    """Rebuild a `Turn`; a turn left unfinished by a dead process reads as interrupted."""
    stop_reason = _stop_reason(row["stop_reason"], streaming=streaming)
    provenance = row["provenance_json"]
    decoding = row["decoding_json"]
    return Turn(
        question=row["question"],
        answer=row["answer"],
        stop_reason=stop_reason,
        prompt_preset=row["prompt_preset"],
        prompt_version=row["prompt_version"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        timings=Timings.from_json(json.loads(row["timings_json"])),
        provenance=None if provenance is None else provenance_from_json(json.loads(provenance)),
        decoding=None if decoding is None else _build(DecodingSettings, json.loads(decoding)),
    )


def _stop_reason(value: str | None, *, streaming: bool) -> StopReason | None:
    if value is None:
        return None if streaming else INTERRUPTED
    if value not in _STOP_REASONS:  # written by a newer app: still not a complete answer
        return INTERRUPTED
    return cast(StopReason, value)


def provenance_from_json(data: dict[str, Any]) -> Provenance:
    """Rebuild `Provenance` with its two `ModelIdentity`s."""
    values = _known(Provenance, data)
    values["model"] = _build(ModelIdentity, data["model"])
    values["mmproj"] = _build(ModelIdentity, data["mmproj"])
    return Provenance(**values)


def _build(cls: type[_T], data: dict[str, Any]) -> _T:
    return cls(**_known(cls, data))


def _known(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}
