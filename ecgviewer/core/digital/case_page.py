"""A digital recording as a case's page: recognise the file, read it, draw it, record how.

`open_recording(path)` is what `workspace.open_case` calls for a WFDB, DICOM,
vendor XML or SCP-ECG file: the record is read by the readers' dispatcher, drawn
with the renderer's default settings, and described by one non-geometric
"render" step that holds the renderer's settings, the recording's facts and the
SHA-256 of every file of the recording. The drawn page (PNG bytes) is what the
case history keeps as the case's scan, so a case reopens with identical pixels
whatever later versions of the readers or the renderer do (docs/digital-ecg.md).
Pure core: no Qt; safe on a background thread.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from ecgviewer.core.digital.facts_text import RENDER_OP
from ecgviewer.core.digital.readers import read_record, reader_for
from ecgviewer.core.digital.record import EcgRecord
from ecgviewer.core.digital.render import RenderedPage, RenderSettings, render_page
from ecgviewer.core.digital.wfdb_reader import read_wfdb
from ecgviewer.core.imaging.steps import Step

# Files opened as recordings whatever their content says (the reader then explains a bad one)
DIGITAL_SUFFIXES: tuple[str, ...] = (".hea", ".dat", ".mat", ".dcm", ".xml", ".scp")
WFDB_SIGNAL_SUFFIXES = (".dat", ".mat", ".xyz")


@dataclass(frozen=True)
class DigitalPage:
    """A recording drawn as a page: the record, the page, its step and its PNG bytes."""

    record: EcgRecord
    page: RenderedPage
    step: Step  # the "render" step: renderer settings, recording facts, file fingerprints
    png: bytes  # the page as stored in the case history (the case's scan)

    @property
    def image(self) -> Image.Image:
        return self.page.image


def is_digital_file(path: Path) -> bool:
    """True for a file a digital reader claims, or one named like a recording."""
    return Path(path).suffix.lower() in DIGITAL_SUFFIXES or reader_for(Path(path)) is not None


def open_recording(path: Path, settings: RenderSettings | None = None) -> DigitalPage:
    """Read and draw the recording at `path`; DigitalEcgError says what is wrong with it."""
    path = Path(path)
    record = _read(path)
    page = render_page(record, settings)
    files = [{"name": f.name, "sha256": file_sha256(f)} for f in record_files(path)]
    params = {"renderer": page.settings_json(), "recording": recording_facts(record),
              "files": files}  # fmt: skip
    buffer = io.BytesIO()
    page.image.save(buffer, format="PNG", compress_level=6)
    return DigitalPage(record, page, Step(RENDER_OP, params, "signal"), buffer.getvalue())


def _read(path: Path) -> EcgRecord:
    if path.suffix.lower() in WFDB_SIGNAL_SUFFIXES and reader_for(path) is None:
        return read_wfdb(path)  # says which header must lie beside the signal file
    return read_record(path)


def recording_facts(record: EcgRecord) -> dict[str, Any]:
    """What the report, the facts panel and `preprocess --json` say about the recording."""
    return {
        "format": record.format,
        "sampling_hz": round(float(record.sampling_hz), 3),
        "duration_s": round(record.duration_s, 3),
        "leads": list(record.leads),
        "device": record.device,
        "start": record.start,
        "derived": list(record.derived),
        "missing": list(record.missing),
        "flat": list(record.flat),
        "saturated": list(record.saturated),
        "notes": list(record.notes),
    }


def record_files(path: Path) -> list[Path]:
    """The files of the recording `path` belongs to (a WFDB header and its signal files)."""
    path = Path(path)
    if path.suffix.lower() not in (".hea", *WFDB_SIGNAL_SUFFIXES):
        return [path]
    header = path.with_suffix(".hea")
    if not header.is_file():
        return [path]
    named = _named(header, path)
    siblings = (header.with_suffix(suffix) for suffix in WFDB_SIGNAL_SUFFIXES)
    return [header, *sorted(s for s in siblings if s in named and s.is_file())]


def _named(header: Path, opened: Path) -> set[Path]:
    """Signal files beside `header` that it names (by suffix, as records copied under a new
    name keep the old file names inside), and the opened file."""
    try:
        lines = header.read_text("latin-1").splitlines()
    except OSError:
        return {opened}
    body = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    suffixes = {Path(fields[0]).suffix.lower() for fields in body[1:] if fields}
    return {header.with_suffix(s) for s in suffixes} | {opened}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def one_per_record(paths: Iterable[Path]) -> list[Path]:
    """`paths` with the files of one WFDB record (header and signal files) kept once.

    Dropping a record's .hea and .dat together opens one case, not two.
    """
    kept: list[Path] = []
    records: set[Path] = set()
    for path in paths:
        suffix = path.suffix.lower()
        if suffix in (".hea", *WFDB_SIGNAL_SUFFIXES) and path.with_suffix(".hea").is_file():
            key = path.with_suffix("")
            if key in records:
                continue
            records.add(key)
        kept.append(path)
    return kept
