"""Which reader opens a digital ECG file: each reader registers a content sniff and a read.

`read_record(path)` asks each registered sniff in turn (cheap: a few bytes, or a
header beside the file) and reads with the first that claims the file. The
built-in readers are registered on first use, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from ecgviewer.core.digital.record import DigitalEcgError, EcgRecord

Sniff = Callable[[Path], bool]
Read = Callable[[Path], EcgRecord]

_READERS: list[tuple[Sniff, Read]] = []


def register(sniff: Sniff, read: Read) -> None:
    """Add a reader; `sniff(path)` says whether `read(path)` is the one for the file."""
    if (sniff, read) not in _READERS:
        _READERS.append((sniff, read))


def reader_for(path: Path) -> Read | None:
    """The read function for `path`, or None when no reader claims it."""
    _load_builtin()
    return next((read for sniff, read in _READERS if sniff(path)), None)


def is_digital_ecg(path: Path) -> bool:
    """True when some reader claims `path` (it may still turn out unreadable)."""
    return reader_for(path) is not None


def read_record(path: Path) -> EcgRecord:
    """The recording in `path`; DigitalEcgError when no reader knows the file or it is bad."""
    read = reader_for(path)
    if read is None:
        raise DigitalEcgError(
            f"{path.name} is not a digital ECG format ECG Viewer reads "
            "(WFDB, DICOM ECG waveform, vendor XML, SCP-ECG)."
        )
    return read(path)


@cache
def _load_builtin() -> None:
    from ecgviewer.core.digital import dicom_reader, scp_reader, wfdb_reader

    register(dicom_reader.sniff_dicom, dicom_reader.read_dicom)
    register(wfdb_reader.sniff_wfdb, wfdb_reader.read_wfdb)
    register(scp_reader.sniff_scp, scp_reader.read_scp)  # by content: section 0 at byte 6
    _register_xml()


def _register_xml() -> None:
    from ecgviewer.core.digital import (
        aecg_reader,
        muse_reader,
        philips_reader,
        schiller_reader,
        xml_document,
    )

    register(philips_reader.sniff_philips, philips_reader.read_philips)
    register(muse_reader.sniff_muse, muse_reader.read_muse)
    register(aecg_reader.sniff_aecg, aecg_reader.read_aecg)
    register(schiller_reader.sniff_schiller, schiller_reader.read_schiller)
    # any other .xml: says what it is (vendor, namespace, version) or that it is not XML
    register(xml_document.sniff_xml_suffix, xml_document.read_unknown_xml)
