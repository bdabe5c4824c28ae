"""WFDB records: the shared PTB, PTB-XL and CinC (.mat) samples read as wfdb itself reads them,
in mV, with standard lead names; bad records refused with their own message."""

from __future__ import annotations

import shutil
from datetime import date, time
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.digital.record import STANDARD_LEADS, DigitalEcgError
from ecgviewer.core.digital.wfdb_reader import read_wfdb, sniff_wfdb

wfdb = pytest.importorskip("wfdb")

# header -> (lead names in file order, Hz, seconds, study fields)
RECORDS = {
    "ptbdb_s0010_re.hea": (
        [*STANDARD_LEADS, "vx", "vy", "vz"], 1000.0, 38.4, {"age": "81", "sex": "F"},
    ),
    "ptbxl_00001_lr.hea": (list(STANDARD_LEADS), 100.0, 10.0, {}),
    "JS00001.hea": (list(STANDARD_LEADS), 500.0, 10.0, {"age": "85", "sex": "M"}),
}  # fmt: skip
TO_MV = {"mV": 1.0, "uV": 1e-3}


@pytest.fixture
def waveforms(shared_samples: Path) -> Path:
    return shared_samples / "waveforms"


def copy_record(source: Path, folder: Path, *, under_header_names: bool = False) -> Path:
    """Copy the record of header `source` into `folder`; its header's path there.
    `under_header_names`: data files named as the header names them (for wfdb itself)."""
    folder.mkdir(parents=True, exist_ok=True)
    header = folder / source.name
    shutil.copyfile(source, header)
    for name in dict.fromkeys(wfdb.rdheader(str(source.with_suffix(""))).file_name):
        suffix = Path(name).suffix
        target = folder / (name if under_header_names else source.stem + suffix)
        shutil.copyfile(source.with_suffix(suffix), target)
    return header


def library_mv(source: Path, tmp_path: Path) -> np.ndarray:
    """What wfdb.rdrecord gives for the record, physical units converted to mV."""
    header = copy_record(source, tmp_path / "library", under_header_names=True)
    record = wfdb.rdrecord(str(header.with_suffix("")), physical=True)
    return record.p_signal * np.array([TO_MV[unit] for unit in record.units])


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_shared_record_reads_as_wfdb_reads_it(waveforms: Path, tmp_path: Path, name: str) -> None:
    names, hz, seconds, study = RECORDS[name]
    record = read_wfdb(waveforms / name)
    assert list(record.leads) == names
    assert (record.sampling_hz, record.duration_s) == (hz, seconds)
    assert record.format == "WFDB"
    assert (record.derived, record.missing, record.flat) == ((), (), ())
    assert dict(record.study) == study
    assert record.start == ""  # none of the three headers has a base date or time
    expected = library_mv(waveforms / name, tmp_path)
    got = np.column_stack([record.leads[lead] for lead in names])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert np.ptp(got[:, names.index("II")]) > 0.5  # a real ECG, not zeros


@pytest.mark.parametrize(
    "name", ["ptbdb_s0010_re.dat", "ptbdb_s0010_re.xyz", "ptbxl_00001_lr.dat", "JS00001.mat"]
)
def test_opening_a_signal_file_reads_its_record(waveforms: Path, name: str) -> None:
    assert sniff_wfdb(waveforms / name)
    from_signal = read_wfdb(waveforms / name)
    from_header = read_wfdb((waveforms / name).with_suffix(".hea"))
    assert list(from_signal.leads) == list(from_header.leads)
    for lead, values in from_header.leads.items():
        np.testing.assert_array_equal(from_signal.leads[lead], values)


def test_sniff_refuses_what_is_not_wfdb(
    waveforms: Path, shared_samples: Path, tmp_path: Path
) -> None:
    lonely = tmp_path / "lonely.dat"
    shutil.copyfile(waveforms / "ptbxl_00001_lr.dat", lonely)
    notes = tmp_path / "notes.hea"
    notes.write_text("Patient notes: nothing to see here\n")
    dicom = next((shared_samples / "digital" / "dicom").glob("*.dcm"))
    assert not any(sniff_wfdb(path) for path in (lonely, notes, dicom))
    assert sniff_wfdb(waveforms / "JS00001.hea")


def test_microvolt_header_is_converted_to_mv(waveforms: Path, tmp_path: Path) -> None:
    header = copy_record(waveforms / "ptbxl_00001_lr.hea", tmp_path, under_header_names=True)
    header.write_text(header.read_text().replace("/mV", "/uV"))
    record = read_wfdb(header)
    expected_uv = wfdb.rdrecord(str(header.with_suffix("")), physical=True)
    assert set(expected_uv.units) == {"uV"}  # the library reads the same numbers in uV
    np.testing.assert_allclose(record.leads["V2"], expected_uv.p_signal[:, 7] / 1000, atol=1e-9)


def test_fewer_leads_are_derived_or_listed_missing(tmp_path: Path) -> None:
    t = np.arange(2000) / 500
    one, two = np.sin(2 * np.pi * t), 0.5 * np.cos(2 * np.pi * t)
    signal = np.column_stack([one, two, one - two, np.full_like(t, 12.0)])
    wfdb.wrsamp(
        "partial", fs=500, units=["mV", "mV", "mV", "NU"], sig_name=["i", "II", "v1", "RESP"],
        p_signal=signal, fmt=["16"] * 4, write_dir=str(tmp_path),
        base_date=date(2024, 3, 5), base_time=time(14, 30, 15),
    )  # fmt: skip
    record = read_wfdb(tmp_path / "partial.dat")
    assert record.derived == ("III", "aVR", "aVL", "aVF")
    assert record.missing == ("V2", "V3", "V4", "V5", "V6")
    assert "RESP" not in record.leads and any("RESP" in note for note in record.notes)
    np.testing.assert_allclose(record.leads["aVR"], -(one + two) / 2, atol=2e-3)
    assert record.start == "2024-03-05T14:30:15"
    assert record.study["acquisition_date"] == "2024-03-05 14:30:15"


def test_missing_data_file_is_named(waveforms: Path, tmp_path: Path) -> None:
    header = tmp_path / "ptbxl_00001_lr.hea"
    shutil.copyfile(waveforms / header.name, header)
    with pytest.raises(DigitalEcgError, match=r"needs the data file 00001_lr\.dat"):
        read_wfdb(header)


@pytest.mark.parametrize(
    ("name", "suffix"), [("ptbxl_00001_lr.hea", ".dat"), ("JS00001.hea", ".mat")]
)
def test_cut_off_data_file_is_named(
    waveforms: Path, tmp_path: Path, name: str, suffix: str
) -> None:
    header = copy_record(waveforms / name, tmp_path)
    data = header.with_suffix(suffix)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    message = rf"data file {data.name} is shorter than its header {header.name} says"
    with pytest.raises(DigitalEcgError, match=message) as caught:
        read_wfdb(header)
    assert "of 5000 samples" in str(caught.value) or "of 1000 samples" in str(caught.value)


def test_sampling_below_100_hz_is_refused(waveforms: Path, tmp_path: Path) -> None:
    header = copy_record(waveforms / "ptbxl_00001_lr.hea", tmp_path)
    header.write_text(header.read_text().replace("00001_lr 12 100 1000", "00001_lr 12 50 1000"))
    with pytest.raises(DigitalEcgError, match=r"sampled at 50 Hz.*at least 100 Hz"):
        read_wfdb(header)


def test_registry_opens_header_and_signal_files(waveforms: Path) -> None:
    from ecgviewer.core.digital.readers import read_record

    for name in ("ptbdb_s0010_re.hea", "ptbdb_s0010_re.xyz", "JS00001.mat"):
        assert read_record(waveforms / name).format == "WFDB"
