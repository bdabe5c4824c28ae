"""DICOM ECG waveforms: the shared files read as pydicom itself scales them (rhythm group, in mV),
lead names from codes or code meanings, patient and study fields; bad files refused clearly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ecgviewer.core.digital.dicom_reader import read_dicom, sniff_dicom
from ecgviewer.core.digital.record import STANDARD_LEADS, DigitalEcgError
from ecgviewer.core.study import checked_study

pydicom = pytest.importorskip("pydicom")

# file -> (format, Hz, rhythm group index, unit of pydicom's waveform_array, device, study)
FILES: dict[str, tuple[str, float, int, str, str, dict[str, str]]] = {
    "mortara_eli250_anonymous_ecg.dcm": (
        "DICOM 12-lead ECG Waveform Storage", 1000.0, 0, "uV", "Mortara Instrument, Inc. el250",
        {"name": "Anonymous", "patient_id": "642341", "date_of_birth": "1971-01-23",
         "sex": "F", "age": "42", "referring_clinician": "2721",
         "acquisition_date": "2013-01-25 10:59:19"},
    ),
    "ecgtoolkit_Example.dcm": (
        "DICOM 12-lead ECG Waveform Storage", 500.0, 0, "uV", "ELI250",
        {"name": "Clark", "patient_id": "SBJ-123", "date_of_birth": "1953-05-08", "sex": "M",
         "acquisition_date": "2002-11-22 09:10:00"},
    ),
    "ecg2dcm_synthetic_muse.dcm": (
        "DICOM General ECG Waveform Storage", 500.0, 0, "uV", "GE Healthcare MAC55",
        {"name": "Anonymized", "patient_id": "000001", "sex": "M", "age": "45",
         "referring_clinician": "Anonymized", "acquisition_date": "2025-08-01 00:00:00"},
    ),
    "ge_marquette_test_ecg_hemodynamic_sop.dcm": (
        "DICOM Hemodynamic Waveform Storage", 240.0, 0, "mV", "GE Marquette MACLB",
        {"name": "Patient, Test", "patient_id": "123-654", "date_of_birth": "1944-01-02",
         "sex": "M", "age": "55", "referring_clinician": "FORD MD, GREGORY",
         "acquisition_date": "1999-12-23 10:07:09"},
    ),
}  # fmt: skip
TO_MV = {"uV": 1e-3, "mV": 1.0}


@pytest.fixture
def dicoms(shared_samples: Path) -> Path:
    return shared_samples / "digital" / "dicom"


def rewritten(source: Path, target: Path, change: Any) -> Path:
    """`source` read with pydicom, changed by `change(dataset)`, written to `target`."""
    dataset = pydicom.dcmread(source)
    change(dataset)
    dataset.save_as(target)
    return target


@pytest.mark.parametrize("name", sorted(FILES))
def test_shared_file_reads_as_pydicom_scales_it(dicoms: Path, name: str) -> None:
    sop, hz, group, unit, device, study = FILES[name]
    assert sniff_dicom(dicoms / name)
    record = read_dicom(dicoms / name)
    assert list(record.leads) == list(STANDARD_LEADS)
    assert (record.format, record.sampling_hz, record.duration_s) == (sop, hz, 10.0)
    assert (record.derived, record.missing, record.flat) == ((), (), ())
    assert (record.device, dict(record.study)) == (device, study)
    assert checked_study(dict(record.study)) == study  # every field fits the study form
    assert record.start == study["acquisition_date"].replace(" ", "T")
    expected = pydicom.dcmread(dicoms / name).waveform_array(group) * TO_MV[unit]
    got = np.column_stack([record.leads[lead] for lead in STANDARD_LEADS])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert 0.5 < np.ptp(got[:, 1]) < 10  # lead II: a real ECG in mV, not counts or volts


def test_median_beat_is_not_what_is_drawn(dicoms: Path) -> None:
    """ecgtoolkit_Example's median beat (group 1) is 1.2 s with -32768 fill; the rhythm is 10 s."""
    record = read_dicom(dicoms / "ecgtoolkit_Example.dcm")
    assert record.samples == 5000
    assert float(np.min(record.leads["I"])) > -10  # no -81.92 mV fill values


def test_lead_names_from_code_meanings(dicoms: Path, tmp_path: Path) -> None:
    def drop_codes(dataset: Any) -> None:
        for channel in dataset.WaveformSequence[0].ChannelDefinitionSequence:
            channel.ChannelSourceSequence[0].CodeValue = "unknown"

    for name in ("mortara_eli250_anonymous_ecg.dcm", "ecg2dcm_synthetic_muse.dcm"):
        # "Lead I (Einthoven)", "Lead aVR", "aVR, augmented voltage, right"...
        record = read_dicom(rewritten(dicoms / name, tmp_path / name, drop_codes))
        assert list(record.leads) == list(STANDARD_LEADS)


def test_eight_stored_leads_get_the_limb_leads_derived(dicoms: Path, tmp_path: Path) -> None:
    keep = [0, 1, 6, 7, 8, 9, 10, 11]  # I, II, V1-V6 as MUSE and SCP carts store them

    def eight_leads(dataset: Any) -> None:
        group = dataset.WaveformSequence[0]
        raw = dataset.waveform_array(0)  # uV, 1.25 uV per count
        counts = np.round(raw / 1.25).astype("<i2")[:, keep]
        group.WaveformData = counts.tobytes()
        group.NumberOfWaveformChannels = len(keep)
        channels = group.ChannelDefinitionSequence
        group.ChannelDefinitionSequence = [channels[i] for i in keep]

    name = "mortara_eli250_anonymous_ecg.dcm"
    record = read_dicom(rewritten(dicoms / name, tmp_path / name, eight_leads))
    full = read_dicom(dicoms / name)
    assert record.derived == ("III", "aVR", "aVL", "aVF")
    assert record.missing == ()
    for lead in STANDARD_LEADS:  # the cart's own III, aVR... agree with the derived ones
        np.testing.assert_allclose(record.leads[lead], full.leads[lead], atol=0.01)


def test_implicit_vr_file_without_preamble(dicoms: Path, tmp_path: Path) -> None:
    dataset = pydicom.dcmread(dicoms / "mortara_eli250_anonymous_ecg.dcm")
    del dataset.file_meta
    dataset.preamble = None
    bare = tmp_path / "bare_ecg"
    dataset.save_as(bare, implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert bare.read_bytes()[128:132] != b"DICM"
    assert sniff_dicom(bare)
    assert read_dicom(bare).samples == 10000


def test_sniff_refuses_what_is_not_dicom(shared_samples: Path) -> None:
    others = [
        shared_samples / "waveforms" / "ptbxl_00001_lr.dat",
        shared_samples / "waveforms" / "JS00001.hea",
        next((shared_samples / "ecg-image-kit-real").glob("*.jpg")),
    ]
    assert not any(sniff_dicom(path) for path in others)


BAD = {
    "no waveform": (lambda ds: delattr(ds, "WaveformSequence"), r"holds no waveform"),
    "median only": (
        lambda ds: ds.WaveformSequence.pop(0),
        r"holds only a median \(averaged\) beat",
    ),
    "mu-law": (
        lambda ds: _set_group(ds, WaveformSampleInterpretation="MB", WaveformBitsAllocated=8),
        r"8-bit mu-law samples \(WaveformSampleInterpretation MB, 8 bits\).*cannot decode",
    ),
    "cut short": (
        lambda ds: _set_group(ds, WaveformData=ds.WaveformSequence[0].WaveformData[:48000]),
        r"is cut short: its waveform holds 2000 of the 10000 samples",
    ),
    "50 Hz": (lambda ds: _set_group(ds, SamplingFrequency=50), r"sampled at 50 Hz"),
}


def _set_group(dataset: Any, **values: Any) -> None:
    for key, value in values.items():
        setattr(dataset.WaveformSequence[0], key, value)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_has_its_own_message(dicoms: Path, tmp_path: Path, case: str) -> None:
    change, message = BAD[case]
    name = "mortara_eli250_anonymous_ecg.dcm"
    path = rewritten(dicoms / name, tmp_path / name, change)
    with pytest.raises(DigitalEcgError, match=message) as caught:
        read_dicom(path)
    assert name in str(caught.value)


def test_damaged_file_is_refused_with_its_name(dicoms: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.dcm"
    path.write_bytes((dicoms / "mortara_eli250_anonymous_ecg.dcm").read_bytes()[:2000])
    with pytest.raises(DigitalEcgError, match=r"cut\.dcm"):
        read_dicom(path)


def test_registry_opens_dicom_by_content(dicoms: Path, tmp_path: Path) -> None:
    from ecgviewer.core.digital.readers import read_record

    renamed = tmp_path / "ecg.bin"  # the name says nothing; the "DICM" marker does
    renamed.write_bytes((dicoms / "ecg2dcm_synthetic_muse.dcm").read_bytes())
    assert read_record(renamed).format == "DICOM General ECG Waveform Storage"
