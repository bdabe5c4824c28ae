"""Digital recordings as cases (issue 19): every shared WFDB, DICOM, XML and SCP file opens
through open_case and `ecgviewer preprocess --json` as a page drawn from the signal, with an
identity transform; a case reopens from the history with the same pixels; bad recordings
exit 2 with the reader's message."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.digital.case_page import one_per_record, record_files
from ecgviewer.core.digital.readers import read_record
from ecgviewer.core.digital.record import DigitalEcgError
from ecgviewer.core.imaging.model_input import MODEL_INPUT_SIZE
from ecgviewer.core.reopening import reopen_case
from ecgviewer.core.report import write_report
from ecgviewer.core.storage import CaseHistory
from ecgviewer.core.workspace import open_case
from tests.conftest import REPO, SHARED_SAMPLES

NOT_RECORDINGS = {"MANIFEST.tsv", "LICENSES.md"}
FILES = sorted(
    path
    for folder in ("waveforms", "digital")
    for path in (SHARED_SAMPLES / folder).rglob("*")
    if path.is_file() and path.name not in NOT_RECORDINGS
)
IDS = [str(path.relative_to(SHARED_SAMPLES)) for path in FILES]
IDENTITY = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def preprocess(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecgviewer", "preprocess", *args],
        check=False, capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_shared_recording_opens_as_a_drawn_case(path: Path) -> None:
    opened = open_case(path)
    record = read_record(path)
    assert [step["op"] for step in opened.steps] == ["render"]
    step = opened.steps[0]
    assert step["source"] == "signal" and step["renderer"]["layout"] == "3x4+1"
    assert step["recording"]["sampling_hz"] == pytest.approx(record.sampling_hz, abs=1e-3)
    assert step["recording"]["leads"] == list(record.leads)
    assert [f["name"] for f in step["files"]] == [f.name for f in record_files(path)]
    assert (
        step["files"][0]["sha256"] == hashlib.sha256(record_files(path)[0].read_bytes()).hexdigest()
    )
    assert opened.case.source.format == record.format
    assert np.array_equal(opened.image.transform, np.eye(3))
    assert np.array_equal(np.asarray(opened.result), np.asarray(opened.original))
    assert opened.result.size == (2200, 1700)
    assert opened.model_input().size == (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE)
    assert opened.proposals == dict(record.study)
    assert opened.scan is not None
    assert opened.case.source.sha256 == hashlib.sha256(opened.scan).hexdigest()


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_shared_recording_preprocesses_as_signal(path: Path) -> None:
    done = preprocess("--json", str(path))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["source"] == "signal"
    assert report["transform"] == IDENTITY
    assert report["px_per_mm"] == pytest.approx(200 / 25.4, abs=1e-3)
    assert report["renderer"]["renderer"] == "ecgviewer.digital.render"
    assert report["renderer"]["speed_mm_s"] == 25.0 and report["renderer"]["gain_mm_mv"] == 10.0
    assert report["output_size"] == [2200, 1700]
    assert [step["op"] for step in report["steps"]] == ["render"]
    assert report["recording"]["leads"] and report["recording"]["sampling_hz"] >= 100


@pytest.mark.parametrize(
    "relative", ["waveforms/ptbxl_00001_lr.dat", "digital/dicom/mortara_eli250_anonymous_ecg.dcm"]
)
def test_reopened_from_the_history_gives_the_same_page(
    shared_samples: Path, tmp_path: Path, relative: str
) -> None:
    source = tmp_path / "copy" / Path(relative).name
    shutil.copytree(shared_samples / Path(relative).parent, source.parent)
    opened = open_case(source)
    # what `interpret --no-preprocess` and `eval` open: the same drawn page
    assert open_case(source, preprocess=False).model_png() == opened.model_png()
    with CaseHistory.open() as history:
        assert opened.scan is not None
        case_id = history.save_case(opened.case, opened.scan)
        shutil.rmtree(source.parent)  # the recording is gone: the stored page is enough
        again = reopen_case(history, case_id)
    assert np.array_equal(np.asarray(again.result), np.asarray(opened.result))
    assert again.model_png() == opened.model_png()
    assert again.case.steps == opened.case.steps
    assert again.source.format == opened.case.source.format
    edited = again.image.with_rotate90(1).reset_to_automatic()  # the render step survives edits
    assert [step.op for step in edited.steps] == ["render"]


def test_report_says_the_page_was_drawn_from_the_signal(
    shared_samples: Path, tmp_path: Path
) -> None:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext is not installed")
    opened = open_case(shared_samples / "digital/dicom/ecgtoolkit_Example.dcm")
    out = tmp_path / "report.pdf"
    write_report(opened.case, opened.result, opened.original, out)
    text = " ".join(subprocess.run([pdftotext, str(out), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())  # fmt: skip
    assert "drawn from the signal of ecgtoolkit_Example.dcm" in text
    assert "ecgviewer.digital.render v1, layout 3x4+1" in text
    assert "25 mm/s, 10 mm/mV" in text
    assert "Recording file" in text


def _bad_recordings(shared: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    """Bad input built from the shared files: (path, what its message says)."""
    header = folder / "ptbxl_00001_lr.hea"
    shutil.copyfile(shared / "waveforms/ptbxl_00001_lr.hea", header)  # no .dat beside it
    lone = folder / "lonely.dat"
    shutil.copyfile(shared / "waveforms/ptbxl_00001_lr.dat", lone)
    other = folder / "other.xml"
    other.write_text('<?xml version="1.0"?><invoice xmlns="urn:example"/>')
    slow = folder / "slow" / "ptbxl_00001_lr.hea"
    slow.parent.mkdir()
    text = header.read_text().replace(" 100 ", " 50 ", 1)
    slow.write_text(text)
    shutil.copyfile(shared / "waveforms/ptbxl_00001_lr.dat", slow.with_suffix(".dat"))
    return {
        "missing .dat": (header, "needs the data file 00001_lr.dat"),
        "signal file alone": (lone, "without its header"),
        "unsupported XML": (other, "root element <invoice>"),
        "under 100 Hz": (slow, "at least 100 Hz"),
    }


def test_bad_recordings_exit_2_with_the_readers_message(
    shared_samples: Path, tmp_path: Path
) -> None:
    bad = _bad_recordings(shared_samples, tmp_path)
    for what, (path, message) in bad.items():
        done = preprocess("--json", str(path))
        assert done.returncode == 2, what
        assert message in done.stderr, (what, done.stderr)
        assert done.stdout == "", what
        with pytest.raises(DigitalEcgError, match=message.replace(".", r"\.")):
            open_case(path)


def test_dicom_without_waveform_exits_2(shared_samples: Path, tmp_path: Path) -> None:
    pydicom = pytest.importorskip("pydicom")
    data = pydicom.dcmread(shared_samples / "digital/dicom/mortara_eli250_anonymous_ecg.dcm")
    del data.WaveformSequence
    path = tmp_path / "nowave.dcm"
    data.save_as(path)
    done = preprocess(str(path))
    assert done.returncode == 2 and "no waveform" in done.stderr.lower(), done.stderr


def test_one_case_per_wfdb_record(shared_samples: Path) -> None:
    folder = shared_samples / "waveforms"
    names = ["ptbdb_s0010_re.hea", "ptbdb_s0010_re.dat", "ptbdb_s0010_re.xyz", "JS00001.mat",
             "JS00001.hea"]  # fmt: skip
    dropped = [folder / name for name in names]
    assert one_per_record(dropped) == [folder / "ptbdb_s0010_re.hea", folder / "JS00001.mat"]
    assert [p.name for p in record_files(folder / "ptbdb_s0010_re.xyz")] == [
        "ptbdb_s0010_re.hea", "ptbdb_s0010_re.dat", "ptbdb_s0010_re.xyz",
    ]  # fmt: skip
