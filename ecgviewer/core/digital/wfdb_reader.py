"""WFDB records (PhysioNet: PTB, PTB-XL, MIMIC-IV-ECG, the CinC 2020/21 .mat sets).

A record is a text header (.hea) and one or more signal files (.dat, .mat, PTB's
.xyz) that the header names. The user may open the header or any signal file
beside it. Samples are read by the `wfdb` package (imported only here: it pulls
in pandas and matplotlib) in physical units, then converted to mV from the units
the header gives each channel. Channels in other units (blood pressure,
respiration) are left out and noted.

Records copied under a new name keep the old signal file names inside their
header (the shared sample ptbdb_s0010_re.hea still names s0010_re.dat); a
missing signal file is then looked for under the header's own name.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np

from ecgviewer.core.digital.lead_names import standard_lead_name
from ecgviewer.core.digital.record import (
    DigitalEcgError,
    EcgRecord,
    check_sampling,
    complete_leads,
    flat_leads,
)

FORMAT = "WFDB"
TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
# bytes per sample of the fixed-size signal formats, to tell a cut-off file (FLAC ones vary)
BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "61": 2.0, "80": 1.0, "160": 2.0, "24": 3.0,
                    "32": 4.0, "212": 1.5, "310": 4 / 3, "311": 4 / 3}  # fmt: skip


def header_of(path: Path) -> Path | None:
    """The .hea header of the record `path` belongs to: itself, or the one beside it."""
    if path.suffix.lower() == ".hea":
        return path
    header = path.with_suffix(".hea")
    return header if header.is_file() else None


def sniff_wfdb(path: Path) -> bool:
    """True for a WFDB header, or a signal file whose header beside it names its kind of file."""
    header = header_of(path)
    if header is None or not header.is_file():
        return False
    try:
        lines = header.read_bytes()[:65536].decode("latin-1").splitlines()
    except OSError:
        return False
    body = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    if not body or len(body[0]) < 2 or not body[0][1].split("/")[0].isdigit():
        return False
    if path == header:
        return True
    suffixes = {Path(fields[0]).suffix.lower() for fields in body[1:] if fields}
    return path.suffix.lower() in suffixes


def read_wfdb(path: Path) -> EcgRecord:
    """The record `path` belongs to, leads in mV; DigitalEcgError says what is wrong."""
    header = header_of(path)
    if header is None:
        raise DigitalEcgError(
            f"{path.name} is a WFDB signal file without its header: "
            f"{path.with_suffix('.hea').name} must lie beside it."
        )
    wfdb = _wfdb()
    meta = _read_header(wfdb, header)
    check_sampling(float(meta.fs or 0), f"The WFDB record {header.name}")
    files = _signal_files(meta, header)
    _check_lengths(meta, files, header)
    signal = _read_signal(wfdb, meta, header, files)
    stored, notes = _leads_in_mv(list(meta.sig_name), list(meta.units), signal)
    leads, derived, missing = complete_leads(stored)
    return EcgRecord(
        leads=leads,
        sampling_hz=float(meta.fs),
        format=FORMAT,
        start=_start(meta.base_date, meta.base_time),
        study=_study(list(meta.comments or []), meta.base_date, meta.base_time),
        derived=derived,
        missing=missing,
        flat=flat_leads(leads),
        notes=tuple(notes),
    )


def _wfdb() -> Any:
    import wfdb  # type: ignore[import-untyped]

    return wfdb


def _read_header(wfdb: Any, header: Path) -> Any:
    try:
        meta = wfdb.rdheader(str(header.with_suffix("")))
    except Exception as exc:  # wfdb raises bare ValueError/IndexError on a malformed header
        raise DigitalEcgError(
            f"The WFDB header {header.name} cannot be read: it is not a valid record header."
        ) from exc
    if isinstance(meta, wfdb.MultiRecord) or not meta.n_sig:
        raise DigitalEcgError(
            f"The WFDB header {header.name} describes a multi-segment record or no signals; "
            "ECG Viewer opens single-segment ECG records."
        )
    return meta


def _signal_files(meta: Any, header: Path) -> dict[str, Path]:
    """Each signal file the header names -> the file on disk (maybe under the header's name)."""
    names = list(dict.fromkeys(meta.file_name))
    suffixes = [Path(name).suffix.lower() for name in names]
    found: dict[str, Path] = {}
    for name, suffix in zip(names, suffixes, strict=True):
        direct = header.parent / name
        renamed = header.with_suffix(Path(name).suffix)
        if direct.is_file():
            found[name] = direct
        elif suffixes.count(suffix) == 1 and renamed.is_file():
            found[name] = renamed
        else:
            raise DigitalEcgError(
                f"The WFDB record {header.name} needs the data file {name}, "
                f"which is not in {header.parent}.",
                hint="Copy the record's .dat or .mat file next to its header.",
            )
    return found


def _check_lengths(meta: Any, files: dict[str, Path], header: Path) -> None:
    """Refuse a signal file shorter than the header says (cut off while copying)."""
    if not meta.sig_len:
        return
    for name, path in files.items():
        channels = [i for i, file in enumerate(meta.file_name) if file == name]
        size = BYTES_PER_SAMPLE.get(str(meta.fmt[channels[0]]))
        if size is None:
            continue
        offset = int((meta.byte_offset or [None])[channels[0]] or 0)
        per_sample = size * len(channels)
        held = max(path.stat().st_size - offset, 0) / per_sample
        if held < meta.sig_len - 1e-9:
            raise DigitalEcgError(
                f"The data file {path.name} is shorter than its header {header.name} says: "
                f"it holds {math.floor(held)} of {meta.sig_len} samples per lead "
                f"({held / meta.fs:.1f} of {meta.sig_len / meta.fs:.1f} s).",
                hint="The file was probably cut off while copying; copy it again.",
            )


def _read_signal(wfdb: Any, meta: Any, header: Path, files: dict[str, Path]) -> np.ndarray:
    """Physical samples (samples x channels) as wfdb reads them."""
    try:
        if all(path == header.parent / name for name, path in files.items()):
            record = wfdb.rdrecord(str(header.with_suffix("")), physical=True)
        else:
            with tempfile.TemporaryDirectory(prefix="ecgviewer-wfdb-") as folder:
                _stage(Path(folder), header, files)
                record = wfdb.rdrecord(str(Path(folder) / header.stem), physical=True)
    except Exception as exc:  # wfdb gives ValueError("Samples were not loaded correctly") & co
        raise DigitalEcgError(
            f"The signal of the WFDB record {header.name} cannot be read "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    return np.asarray(record.p_signal, dtype=np.float64)


def _stage(folder: Path, header: Path, files: dict[str, Path]) -> None:
    """Lay the record out under the names its header uses (links, or copies where not allowed)."""
    shutil.copyfile(header, folder / header.name)
    for name, path in files.items():
        try:
            (folder / name).symlink_to(path.resolve())
        except OSError:
            shutil.copyfile(path, folder / name)


def _leads_in_mv(
    names: list[str], units: list[str], signal: np.ndarray
) -> tuple[dict[str, np.ndarray], list[str]]:
    stored: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for column, (label, unit) in enumerate(zip(names, units, strict=True)):
        factor = TO_MV.get((unit or "mV").strip().lower())
        name = standard_lead_name(label or f"Channel {column + 1}")
        if factor is None:
            notes.append(f"Channel {name} is in {unit}, not a voltage; left out.")
            continue
        if name in stored:
            notes.append(f"A second channel named {name} is kept as {name} ({column + 1}).")
            name = f"{name} ({column + 1})"
        stored[name] = (signal[:, column] * factor).astype(np.float32)
    if not stored:
        raise DigitalEcgError("The WFDB record has no channel in volts: it holds no ECG leads.")
    return stored, notes


def _start(day: date | None, clock: time | None) -> str:
    if day is not None and clock is not None:
        return datetime.combine(day, clock).isoformat()
    if day is not None:
        return day.isoformat()
    return clock.isoformat() if clock is not None else ""


def _study(comments: list[str], day: date | None, clock: time | None) -> dict[str, str]:
    """Age and sex from PTB-style comments ("age: 81", "Sex: Male"); the recording date."""
    study: dict[str, str] = {}
    for comment in comments:
        key, _, value = comment.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "age" and value.isdigit() and int(value) <= 130:
            study["age"] = str(int(value))
        elif key == "sex" and value[:1].upper() in ("F", "M"):
            study["sex"] = value[:1].upper()
    if day is not None:
        stamp = datetime.combine(day, clock or time())
        study["acquisition_date"] = stamp.strftime("%Y-%m-%d %H:%M:%S" if clock else "%Y-%m-%d")
    return study
