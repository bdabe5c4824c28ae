"""Load a labelled ECG set into `EvalItem`s.

Three shapes are read (see docs/evaluation.md):

* a CSV with the columns `image`, `question` and `answer` (or `gold`), optional `id`;
* a JSONL file with the same keys, one object a line;
* an ECGBench-style JSON list or JSONL file whose objects carry `id`, `image` and
  `conversations` (first turn: the question, second turn: the gold answer).

DATASET may be the file itself or a folder holding exactly one such file, or a
PTB-XL folder (`ptbxl_database.csv` and `scp_statements.csv`), read by `ptbxl`.
Relative image paths resolve against the dataset file's folder (or `image_root`).
Every problem is reported as an `InputError` naming the line (or item) at fault,
and all images are checked before a long run starts.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgviewer.core.errors import InputError

LISTING_SUFFIXES = (".csv", ".jsonl", ".json")
META_SUFFIX = ".meta.json"  # run descriptions written beside results files
IMAGE_PLACEHOLDER = "<image>"
"""LLaVA's marker for the image in ECGBench questions; our runtime places the image itself."""
_ID_KEYS = ("question_id", "id")
_GOLD_KEYS = ("answer", "gold")
_MAX_LISTED = 5


@dataclass(frozen=True)
class EvalItem:
    """One question about one ECG image, with the reference answer."""

    question_id: str
    image_path: Path  # resolved, absolute or relative to the working folder
    question: str  # as given, minus the `<image>` placeholder
    gold: str
    image_ref: str = ""  # the image path exactly as the dataset wrote it
    where: str = ""  # "line 3" / "item 3", for messages
    from_signal: bool = False  # image_path is a recording (PTB-XL): drawn as a page to answer


@dataclass(frozen=True)
class _Record:
    data: dict[str, Any]
    where: str


def load_dataset(
    path: Path,
    *,
    image_root: Path | None = None,
    check_images: bool = True,
    exclude: tuple[Path, ...] = (),
    fold: int | None = None,
    task: str | None = None,
    note: Callable[[str], None] | None = None,
) -> list[EvalItem]:
    """Read every item of the dataset at `path` (a file or a folder with one listing).

    With `check_images` (the default) every image must exist; scoring, which
    only needs the gold answers, turns it off. `exclude`: see `find_listing`.
    A PTB-XL folder gives the records of `fold` (default 10); `task`, when given,
    must then be ptb-xl-super; `note` hears which records were left out.
    """
    from ecgviewer.core.evaluation import ptbxl

    if ptbxl.is_ptbxl_folder(path):
        return ptbxl.load_ptbxl(
            path,
            fold=ptbxl.DEFAULT_FOLD if fold is None else fold,
            task=task,
            check_files=check_images,
            note=note,
        )
    listing = find_listing(path, exclude=exclude)
    root = image_root if image_root is not None else listing.parent
    items = [_to_item(record, index, root) for index, record in enumerate(_records(listing), 1)]
    if not items:
        raise InputError(f"The dataset {listing.name} contains no items.")
    _check_unique_ids(items, listing)
    if check_images:
        _check_images(items, listing)
    return items


def find_listing(path: Path, *, exclude: tuple[Path, ...] = ()) -> Path:
    """Return the CSV/JSONL/JSON file that lists the items of `path`.

    In a folder, run descriptions (`*.meta.json`) and the files in `exclude`
    (a results file written into the dataset's folder) are not candidates.
    """
    if path.is_file():
        if path.suffix.lower() not in LISTING_SUFFIXES:
            raise InputError(
                f"{path.name} is not a dataset listing.", hint="Use a .csv, .jsonl or .json file."
            )
        return path
    if not path.is_dir():
        raise InputError(f"The dataset {path} does not exist.")
    found = _candidate_listings(path, exclude)
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(
            f"The folder {path} holds no .csv, .jsonl or .json listing of questions.",
            hint="Add one (see docs/evaluation.md) or pass the listing file itself.",
        )
    names = ", ".join(p.name for p in found)
    raise InputError(
        f"The folder {path} holds several listings ({names}).", hint="Pass the one to use."
    )


def _candidate_listings(folder: Path, exclude: tuple[Path, ...]) -> list[Path]:
    skipped = {p.resolve() for p in exclude}
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in LISTING_SUFFIXES
        and not p.name.endswith(META_SUFFIX)
        and p.resolve() not in skipped
    )


def _records(listing: Path) -> Iterator[_Record]:
    suffix = listing.suffix.lower()
    try:
        if suffix == ".csv":
            yield from _csv_records(listing)
        elif suffix == ".jsonl":
            yield from _jsonl_records(listing)
        else:
            yield from _json_records(listing)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the dataset {listing.name}.") from exc


def _csv_records(listing: Path) -> Iterator[_Record]:
    with listing.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip().lower() for name in reader.fieldnames or []]
        _require_columns(header, listing)
        reader.fieldnames = header
        for row in reader:
            data = {key: value for key, value in row.items() if key}
            yield _Record(data, f"line {reader.line_num}")


def _require_columns(header: list[str], listing: Path) -> None:
    missing = [name for name in ("image", "question") if name not in header]
    if not any(key in header for key in _GOLD_KEYS):
        missing.append("answer")
    if missing:
        raise InputError(
            f"{listing.name} lacks the column(s) {', '.join(missing)} (line 1).",
            hint="The header must name image, question and answer (or gold); id is optional.",
        )


def _jsonl_records(listing: Path) -> Iterator[_Record]:
    with listing.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            yield _Record(_json_object(line, listing, f"line {number}"), f"line {number}")


def _json_records(listing: Path) -> Iterator[_Record]:
    data = _json_value(listing.read_text(encoding="utf-8"), listing, "the file")
    if not isinstance(data, list):
        raise InputError(f"{listing.name} must hold a JSON list of items.")
    for number, entry in enumerate(data, 1):
        if not isinstance(entry, dict):
            raise InputError(f"{listing.name}, item {number}: expected a JSON object.")
        yield _Record(entry, f"item {number}")


def _json_object(text: str, listing: Path, where: str) -> dict[str, Any]:
    value = _json_value(text, listing, where)
    if not isinstance(value, dict):
        raise InputError(f"{listing.name}, {where}: expected a JSON object.")
    return value


def _json_value(text: str, listing: Path, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{listing.name}, {where}: not valid JSON ({exc}).") from exc


def _to_item(record: _Record, index: int, root: Path) -> EvalItem:
    data, where = record.data, record.where
    if "conversations" in data:
        question, gold = _conversation(data["conversations"], where)
    else:
        question = _text_field(data, ("question",), where)
        gold = _text_field(data, _GOLD_KEYS, where)
    image_ref = _image_ref(data.get("image"), where)
    ident = next((data[key] for key in _ID_KEYS if data.get(key) not in (None, "")), index)
    return EvalItem(
        question_id=str(ident),
        image_path=_resolve(image_ref, root),
        question=_without_placeholder(question),
        gold=gold,
        image_ref=image_ref,
        where=where,
    )


def _without_placeholder(question: str) -> str:
    # Only ECGBench questions carry the marker; everything else is used exactly as given.
    if IMAGE_PLACEHOLDER not in question:
        return question
    return question.replace(IMAGE_PLACEHOLDER, "").strip()


def _conversation(turns: Any, where: str) -> tuple[str, str]:
    if not isinstance(turns, list) or len(turns) < 2:
        raise InputError(f"{where}: `conversations` must list the question and the gold answer.")
    texts = [turn.get("value") if isinstance(turn, dict) else None for turn in turns[:2]]
    if not all(isinstance(text, str) for text in texts):
        raise InputError(f"{where}: each conversation turn needs a text `value`.")
    return str(texts[0]), str(texts[1])


def _text_field(data: dict[str, Any], keys: tuple[str, ...], where: str) -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float | str):
            return str(value)
    raise InputError(f"{where}: missing `{keys[0]}` (a text value is required).")


def _image_ref(value: Any, where: str) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: missing `image` (one image path is required).")
    return value.strip()


def _resolve(image_ref: str, root: Path) -> Path:
    image = Path(image_ref).expanduser()
    return image if image.is_absolute() else root / image


def _check_unique_ids(items: list[EvalItem], listing: Path) -> None:
    seen: dict[str, str] = {}
    for item in items:
        if item.question_id in seen:
            raise InputError(
                f"{listing.name}: the id {item.question_id!r} is used twice "
                f"({seen[item.question_id]} and {item.where}).",
                hint="Every question needs its own id so a run can be resumed.",
            )
        seen[item.question_id] = item.where


def listed(entries: Sequence[str]) -> str:
    """The first `_MAX_LISTED` entries joined, and how many more there are."""
    shown = "; ".join(entries[:_MAX_LISTED])
    more = f" and {len(entries) - _MAX_LISTED} more" if len(entries) > _MAX_LISTED else ""
    return shown + more


def _check_images(items: list[EvalItem], listing: Path) -> None:
    missing = [item for item in items if not item.image_path.is_file()]
    if not missing:
        return
    shown = listed([f"{item.where}: {item.image_ref}" for item in missing])
    raise InputError(
        f"{listing.name}: {len(missing)} image(s) not found ({shown}).",
        hint="Relative paths are read from the dataset's folder; see --image-root.",
    )
