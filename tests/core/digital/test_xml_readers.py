"""Vendor XML readers (Philips, GE MUSE, HL7 aECG, Schiller SEMA) on the shared files.

Values are checked against a reading the readers did not make: Philips against
sierraecg's own counts × 5 µV (and the file's own 1 mV calibration pulse), MUSE against
a plain numpy decode of the base64, aECG and Schiller against a plain parse of their
digits; then the bad inputs, each with its own message."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as StdElementTree
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.digital.aecg_reader import read_aecg, sniff_aecg
from ecgviewer.core.digital.muse_reader import read_muse, sniff_muse
from ecgviewer.core.digital.philips_reader import read_philips, sniff_philips
from ecgviewer.core.digital.record import STANDARD_LEADS, DigitalEcgError, EcgRecord
from ecgviewer.core.digital.schiller_reader import read_schiller, sniff_schiller
from ecgviewer.core.digital.xml_document import read_unknown_xml, xml_root
from ecgviewer.core.study import checked_study

SNIFFERS = {"philips": sniff_philips, "muse": sniff_muse, "aecg": sniff_aecg,
            "schiller": sniff_schiller}  # fmt: skip
HL7 = "{urn:hl7-org:v3}"
LIMBS = ("III", "aVR", "aVL", "aVF")
AUGMENTED = {"AVR": "aVR", "AVL": "aVL", "AVF": "aVF"}  # as aECG and Schiller spell them

# file -> (format, start, flat, saturated, study fields expected among the record's)
PHILIPS = {
    "mrx_129DYPRG.XML": ("Philips SierraECG XML 1.03", "2011-12-01T07:27:34", (), (),
                         {"patient_id": "1112010721168bdc", "age": "50", "sex": "M"}),
    "mrx_129DYPRG_repbeats_example.xml": ("Philips SierraECG XML 1.03", "2011-12-01T07:27:34",
                                          (), (), {"age": "50"}),
    "mrx_129DYNRG.XML": ("Philips SierraECG XML 1.03", "2011-12-01T07:22:37", (), (), {}),
    "mrx_129ECORG_all_leads_missing.XML": (
        "Philips SierraECG XML 1.03", "2011-12-13T14:26:04", (),
        ("I", "II", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"), {}),
    "pagewriter_touch_3191723_ZZDEMOPTONLY_1-04.xml": (
        "Philips PhilipsECG XML 1.04", "2010-01-19T15:19:22", (), (),
        {"name": "ZZDEMOPTONLY, ADULT", "patient_id": "9999", "date_of_birth": "1950-01-01",
         "sex": "M", "referring_clinician": "X", "indication": "TEST PT"}),
    "pagewriter_tc_2020-5-18_15-48-11_1-04-01.xml": (
        "Philips PhilipsECG XML 1.04.01", "2020-05-18T15:48:11", (), (),
        {"date_of_birth": "1951-01-01", "acquisition_date": "2020-05-18 15:48"}),
    "cvrg_Philips103Example01.xml": (
        "Philips SierraECG XML 1.03", "2003-06-09T15:12:38", (), (),
        {"name": "Example 01, Philips", "date_of_birth": "1980-06-12"}),
    "cvrg_ecg_900657176_1_15lead.xml": (
        "Philips PhilipsECG XML 1.04", "1973-03-15T10:01:10", ("V3R", "V4R", "V7"), (),
        {"patient_id": "900657176", "sex": "F", "date_of_birth": "1959-01-20"}),
    "cvrg_ecg_97082525_1_pediatric.xml": ("Philips SierraECG XML 1.03", "1973-07-23T11:17:22",
                                          (), (), {"referring_clinician": "Anonymous"}),
}  # fmt: skip


@pytest.fixture
def digital(shared_samples: Path) -> Path:
    return shared_samples / "digital"


def check_common(record: EcgRecord, rate: float, seconds: float) -> None:
    assert record.sampling_hz == rate
    assert record.duration_s == pytest.approx(seconds, abs=0.01)
    assert all(values.dtype == np.float32 for values in record.leads.values())
    assert all(len(values) == record.samples for values in record.leads.values())
    assert checked_study(dict(record.study)) == dict(record.study)  # the form accepts them
    assert record.study["acquisition_date"] == record.start[:16].replace("T", " ")


@pytest.mark.parametrize("name", sorted(PHILIPS))
def test_philips_reads_as_sierraecg_counts_times_5_uv(digital: Path, name: str) -> None:
    import sierraecg

    path = digital / "philips-sierra-xml" / name
    kind, start, flat, saturated, study = PHILIPS[name]
    record = read_philips(path)
    check_common(record, 500.0, 10.0)
    assert (record.format, record.start, record.flat, record.saturated) == (
        kind, start, flat, saturated)  # fmt: skip
    assert study.items() <= record.study.items()
    assert record.derived == () and record.missing == ()
    assert record.device.startswith("Philips ")
    reference = sierraecg.read_file(str(path))
    assert [lead.label for lead in reference.leads] == list(record.leads)
    for lead in reference.leads:
        counts = lead.samples.astype(np.float64)
        assert np.allclose(record.leads[lead.label], counts[:5000] * 0.005, atol=1e-5)
        # the file's own 1 mV calibration pulse: 200 counts, so 5 uV per count is right
        assert np.all(counts[5350:5450] == 200) and np.all(counts[5450:] == 0)
    if not saturated:  # QRS-sized deflections, in mV
        spans = [float(np.ptp(record.leads[lead])) for lead in STANDARD_LEADS]
        assert 0.3 <= float(np.median(spans)) <= 3.0
    assert any("Kept the first 10.0 s of the 11.0 s" in note for note in record.notes)


@pytest.mark.parametrize(
    ("name", "rate", "version", "study"),
    [("cvrg_MUSE_20080710_165457_96000.xml", 250.0, "7.1.0",
      {"patient_id": "159357456", "name": "ECG, RESTING", "age": "58", "sex": "M",
       "acquisition_date": "1996-03-25 11:18"}),
     ("ecg2dcm_synthetic_muse.xml", 500.0, "9.0.10.18530",
      {"patient_id": "SYNTH0001", "name": "Synthetic, Example", "date_of_birth": "1980-01-01",
       "age": "45", "sex": "M"})],
)  # fmt: skip
def test_muse_reads_the_rhythm_as_plain_base64_int16_times_units(
    digital: Path, name: str, rate: float, version: str, study: dict[str, str]
) -> None:
    path = digital / "ge-muse-xml" / name
    record = read_muse(path)
    check_common(record, rate, 10.0)
    assert record.format == f"GE MUSE XML {version}"
    assert record.derived == LIMBS and record.missing == () and record.flat == ()
    assert study.items() <= record.study.items()
    root = StdElementTree.parse(path).getroot()
    rhythm = next(w for w in root.iter("Waveform") if w.findtext("WaveformType") == "Rhythm")
    stored = {}
    for lead in rhythm.iter("LeadData"):
        counts = np.frombuffer(base64.b64decode(lead.findtext("WaveFormData") or ""), "<i2")
        stored[lead.findtext("LeadID")] = (
            counts * float(lead.findtext("LeadAmplitudeUnitsPerBit") or 0) / 1000
        )
    assert list(stored) == ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    for lead, values in stored.items():
        assert np.allclose(record.leads[lead], values, atol=1e-5)
    one, two = stored["I"], stored["II"]
    for lead, values in zip(LIMBS, (two - one, -(one + two) / 2, one - two / 2, two - one / 2),
                            strict=True):  # fmt: skip
        assert np.allclose(record.leads[lead], values, atol=1e-5)


AECG = {  # file -> (rate, stored leads, derived, missing, start, study expected)
    "hl7_example_aECG_mortara_eli250.xml": (500.0, 12, (), (), "2002-11-22T09:10:00",
        {"name": "Clark", "patient_id": "SBJ-123", "date_of_birth": "1953-05-08", "sex": "M",
         "age": "46"}),
    "liryc_hl7aecg_example_mindray.xml": (100.0, 12, (), (), "2025-09-23T10:35:50",
                                          {"patient_id": "25060897140"}),
    "cvrg_hl7aecg-Example2_calecg.xml": (1000.0, 12, (), (), "2004-01-15T11:20:04",
                                         {"patient_id": "106_ABC", "date_of_birth": "1971-06-16"}),
    "cvrg_TemplateExample1_3leads.xml": (1000.0, 3, ("aVR", "aVL", "aVF"),
                                         ("V1", "V2", "V3", "V4", "V5", "V6"),
                                         "2004-01-15T10:20:10", {"name": "ABC"}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(AECG))
def test_aecg_reads_digits_times_scale_plus_origin(digital: Path, name: str) -> None:
    path = digital / "hl7-aecg" / name
    rate, count, derived, missing, start, study = AECG[name]
    record = read_aecg(path)
    check_common(record, rate, 10.0)
    assert (record.derived, record.missing, record.start) == (derived, missing, start)
    assert study.items() <= record.study.items()
    root = StdElementTree.parse(path).getroot()
    series = next(s for s in root.iter(f"{HL7}series")
                  if s.find(f"{HL7}code").get("code") == "RHYTHM")  # type: ignore[union-attr]  # fmt: skip
    direct = {}
    sequences = f"{HL7}component/{HL7}sequenceSet/{HL7}component/{HL7}sequence"
    for sequence in series.findall(sequences):  # not the derived (median beat) series inside
        code = sequence.find(f"{HL7}code").get("code", "")  # type: ignore[union-attr]
        if code.startswith("MDC_ECG_LEAD_"):
            value = sequence.find(f"{HL7}value")
            scale = float(value.find(f"{HL7}scale").get("value"))  # type: ignore[union-attr,arg-type]
            origin = float(value.find(f"{HL7}origin").get("value"))  # type: ignore[union-attr,arg-type]
            digits = np.array(value.findtext(f"{HL7}digits").split(), float)  # type: ignore[union-attr]
            direct[code[13:]] = (digits * scale + origin) / 1000  # uV in all four files
    assert len(direct) == count
    for code, values in direct.items():
        assert np.allclose(record.leads[AUGMENTED.get(code, code)], values, atol=1e-5)


def test_schiller_reads_the_rhythm_at_500_hz_in_uv(digital: Path) -> None:
    path = digital / "schiller-xml" / "cvrg_schiller_at110_sema.xml"
    record = read_schiller(path)
    check_common(record, 500.0, 9.996)
    assert record.format == "Schiller SEMA XML 2.64.0"
    assert record.device == "Schiller AT-110, SEMA 2.64.0"
    assert record.start == "2006-05-02T14:06:10"
    assert record.study["patient_id"] == "2241428" and record.study["sex"] == "M"
    assert list(record.leads) == list(STANDARD_LEADS) and record.derived == ()
    text = path.read_bytes().decode("utf-8-sig")
    rhythm = text[text.index("<type>ECG_RHYTHMS</type>") :]
    for lead, data in re.findall(r"<name>(\w+)</name>\s*<data>([^<]*)</data>", rhythm):
        counts = np.array([int(item) for item in data.split(",")], float)
        assert np.allclose(record.leads[AUGMENTED.get(lead, lead)], counts / 1000, atol=1e-6)
    # the file's own measurements say 500 Hz and 1 uV per count: QRS_OFF - QRS_ON samples
    # is QRS ms at 2 ms a sample, and the averaged beat's lead I peak (770) is R_AMPL 0.77 mV
    globals_ = dict(re.findall(r"<annotation_global>\s*<name>(\w+)</name>\s*<value>([^<]*)<",
                               text))  # fmt: skip
    assert (int(globals_["QRS_OFF"]) - int(globals_["QRS_ON"])) * 2 == int(globals_["QRS"])
    assert np.allclose(record.leads["III"], record.leads["II"] - record.leads["I"], atol=1e-6)


def test_each_file_is_claimed_by_its_own_reader_only(digital: Path) -> None:
    owners = {"philips-sierra-xml": "philips", "ge-muse-xml": "muse", "hl7-aecg": "aecg",
              "schiller-xml": "schiller"}  # fmt: skip
    for folder, owner in owners.items():
        for path in sorted((digital / folder).iterdir()):
            claims = [kind for kind, sniff in SNIFFERS.items() if sniff(path)]
            assert claims == [owner], path.name
    for path in (digital / "dicom").iterdir():
        assert not any(sniff(path) for sniff in SNIFFERS.values())


# --- bad input ---------------------------------------------------------------------------


def raises(read: object, path: Path, *fragments: str) -> str:
    with pytest.raises(DigitalEcgError) as caught:
        read(path)  # type: ignore[operator]
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_an_unknown_vendor_xml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "cart.xml"
    path.write_text('<?xml version="1.0"?>\n<!-- export -->\n<CardioExport '
                    'xmlns="urn:example:cardio" version="2.1"><lead/></CardioExport>')  # fmt: skip
    assert not any(sniff(path) for sniff in SNIFFERS.values())
    raises(read_unknown_xml, path, "<CardioExport>", "urn:example:cardio", "version 2.1",
           "does not read")  # fmt: skip


def test_a_non_xml_file_named_xml_is_said_not_to_be_xml(tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert xml_root(path) is None
    raises(read_unknown_xml, path, "export.xml has an .xml name but is not XML")
    csv = tmp_path / "leads.xml"
    csv.write_text("I,II,V1\n1,2,3\n")
    raises(read_unknown_xml, csv, "is not XML")


@pytest.mark.parametrize(
    ("folder", "name", "read"),
    [("ge-muse-xml", "cvrg_MUSE_20080710_165457_96000.xml", read_muse),
     ("philips-sierra-xml", "pagewriter_touch_3191723_ZZDEMOPTONLY_1-04.xml", read_philips),
     ("hl7-aecg", "cvrg_TemplateExample1_3leads.xml", read_aecg),
     ("schiller-xml", "cvrg_schiller_at110_sema.xml", read_schiller)],
)  # fmt: skip
def test_a_truncated_file_is_said_to_be_cut_short(
    digital: Path, tmp_path: Path, folder: str, name: str, read: object
) -> None:
    data = (digital / folder / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    assert sum(sniff(path) for sniff in SNIFFERS.values()) == 1  # still recognised by its head
    raises(read, path, "is not complete, well-formed XML", "truncated")


def rewrite(source: Path, target: Path, old: str, new: str, encoding: str = "utf-8") -> Path:
    text = source.read_bytes().decode(encoding)
    assert old in text
    target.write_bytes(text.replace(old, new, 1).encode(encoding))
    return target


def test_an_unsupported_philips_version_is_named(digital: Path, tmp_path: Path) -> None:
    source = digital / "philips-sierra-xml" / "mrx_129DYPRG.XML"
    path = rewrite(source, tmp_path / "new.xml", "<documentversion>1.03<", "<documentversion>1.05<")
    raises(read_philips, path, "version 1.05", "1.03, 1.04, 1.04.01, 1.04.02")


def test_muse_with_only_a_median_beat_or_damaged_samples_is_refused(
    digital: Path, tmp_path: Path
) -> None:
    source = digital / "ge-muse-xml" / "cvrg_MUSE_20080710_165457_96000.xml"
    median = rewrite(source, tmp_path / "median.xml", "<WaveformType>Rhythm<",
                     "<WaveformType>Median<", "latin-1")  # fmt: skip
    raises(read_muse, median, "no rhythm waveform", "Median, Median")
    text = source.read_bytes().decode("latin-1")
    rhythm_data = text.index("<WaveFormData>", text.index("<WaveformType>Rhythm<")) + 20
    flipped = "B" if text[rhythm_data] != "B" else "C"
    damaged = tmp_path / "damaged.xml"
    damaged.write_bytes((text[:rhythm_data] + flipped + text[rhythm_data + 1 :]).encode("latin-1"))
    raises(read_muse, damaged, "Lead I of damaged.xml fails its CRC-32 check")


def test_entities_are_refused_but_a_doctype_is_not(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE RestingECG [<!ENTITY a "aaaaaaaa">]>'
                    "<RestingECG><MuseInfo>&a;</MuseInfo></RestingECG>")  # fmt: skip
    assert sniff_muse(path)
    raises(read_muse, path, "entities", "safety")


def test_aecg_below_100_hz_is_refused(digital: Path, tmp_path: Path) -> None:
    source = digital / "hl7-aecg" / "liryc_hl7aecg_example_mindray.xml"
    path = rewrite(
        source, tmp_path / "slow.xml", '<increment value="0.01"', '<increment value="0.02"'
    )
    raises(read_aecg, path, "sampled at 50 Hz", "at least 100 Hz")


def test_schiller_encoding_it_does_not_know_is_refused_by_version(
    digital: Path, tmp_path: Path
) -> None:
    data = (digital / "schiller-xml" / "cvrg_schiller_at110_sema.xml").read_bytes()
    rhythm_at = data.index(b"ECG_RHYTHMS")
    head, rhythm = data[:rhythm_at], data[rhythm_at:]
    exponent = tmp_path / "exp.xml"
    exponent.write_bytes(head + rhythm.replace(b"<exponent>1<", b"<exponent>2<", 1))
    raises(read_schiller, exponent, "Schiller SEMA XML 2.64.0", "exponent 2", "will not guess")
    binary = tmp_path / "binary.xml"
    binary.write_bytes(head + rhythm.replace(b"COMMASEPARATE", b"BASE64", 1))
    raises(read_schiller, binary, "Schiller SEMA XML 2.64.0", "stored as BASE64")


# --- through the registry: what opening a file in the window or the CLI does -------------


def test_the_registry_opens_every_shared_xml_with_its_reader(digital: Path) -> None:
    from ecgviewer.core.digital.readers import read_record

    vendors = {"philips-sierra-xml": "Philips ", "ge-muse-xml": "GE MUSE XML",
               "hl7-aecg": "HL7 aECG", "schiller-xml": "Schiller SEMA XML"}  # fmt: skip
    for folder, vendor in vendors.items():
        for path in sorted((digital / folder).iterdir()):
            assert read_record(path).format.startswith(vendor), path.name


def test_the_registry_explains_xml_it_cannot_read(digital: Path, tmp_path: Path) -> None:
    from ecgviewer.core.digital.readers import is_digital_ecg, read_record

    unknown = tmp_path / "cart.xml"
    unknown.write_text('<ns0:Export xmlns:ns0="urn:example:cardio" version="3"/>')
    not_xml = tmp_path / "notes.xml"
    not_xml.write_text("just some text\n")
    truncated = tmp_path / "cut.xml"
    truncated.write_bytes(
        (digital / "hl7-aecg" / "cvrg_TemplateExample1_3leads.xml").read_bytes()[:5000]
    )
    assert is_digital_ecg(unknown) and is_digital_ecg(not_xml)
    raises(read_record, unknown, "<Export>", "urn:example:cardio", "version 3")
    raises(read_record, not_xml, "notes.xml has an .xml name but is not XML")
    raises(read_record, truncated, "cut.xml is not complete, well-formed XML")
