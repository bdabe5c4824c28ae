"""`ecgviewer interpret` and `ecgviewer models check` as a user (or a script) runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from ecgviewer.core.imaging.synthetic import render
from tests.support import models

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def ecgviewer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecgviewer", *args],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture
def scan(tmp_path: Path) -> Path:
    path = tmp_path / "scan.png"
    render(width_px=1400).image.rotate(4, expand=True, fillcolor=(70, 70, 70)).save(path)
    return path


def pair() -> list[str]:
    return ["--model", str(models.text_model_path()), "--mmproj", str(models.projector_path())]


def test_json_result_and_pdf_report(scan: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    result = ecgviewer("interpret", str(scan), *pair(), "--max-tokens", "10", "--json",
                       "--ctx", "1024", "--pdf", str(report))  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["stop_reason"] in ("eos", "length")
    assert data["prompt"] == "Analyze this ECG and provide a detailed interpretation."
    assert len(data["model"]["sha256"]) == 64 and data["model"]["quantization"] == "Q4_K_M"
    assert data["mmproj"]["architecture"] == "clip"
    for key in ("model_load_ms", "image_encode_ms", "prompt_prefill_ms", "first_token_ms",
                "decode_ms", "decode_tokens", "tokens_per_second", "total_ms"):  # fmt: skip
        assert key in data["timings"], key
    assert [step["op"] for step in data["preprocess"]][:1] == ["deskew"]
    assert data["ecg_model"] is False
    assert "not an ECG model" in result.stderr  # the test model is never an ECG reading
    text = "".join(page.extract_text() for page in PdfReader(report).pages)
    assert "not validated for clinical use" in text


def test_streams_plain_text_without_json(scan: Path) -> None:
    result = ecgviewer("interpret", str(scan), *pair(), "--max-tokens", "8",
                       "--prompt", "What is the heart rate?", "--no-preprocess")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() or result.stdout.count("\n") >= 1


def test_bad_image_is_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff" + b"\x00" * 20)
    result = ecgviewer("interpret", str(broken), *pair())
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.startswith("ecgviewer: ")


def test_no_model_is_exit_3(scan: Path) -> None:
    result = ecgviewer("interpret", str(scan))
    assert result.returncode == 3
    assert "No model is configured" in result.stderr


def test_models_check(tmp_path: Path) -> None:
    text, mmproj = str(models.text_model_path()), str(models.projector_path())
    good = ecgviewer("models", "check", text, mmproj, "--json")
    assert good.returncode == 0, good.stderr
    facts = json.loads(good.stdout)
    assert facts["image_tokens"] == 16 and facts["embedding_length"] == 640
    swapped = ecgviewer("models", "check", mmproj, text)
    assert swapped.returncode == 3
    assert "is a vision projector (mmproj), not the text model" in swapped.stderr


def test_repacking_from_the_settings_file_is_applied_or_refused_with_a_note(
    scan: Path, tmp_path: Path
) -> None:
    """`"repack_weights": true` in the settings file: on a CPU where llama.cpp uses AMX the
    reading still works, with one note on stderr; elsewhere it is applied, silently."""
    from ecgviewer.core.paths import app_paths
    from ecgviewer.core.settings import ModelSettings, Settings, save_settings

    model = ModelSettings(
        text_path=str(models.text_model_path()), mmproj_path=str(models.projector_path()),
        repack_weights=True, n_ctx=1024, max_tokens=8,
    )  # fmt: skip
    save_settings(app_paths().ensure(), Settings(model=model))
    result = ecgviewer("interpret", str(scan), "--json")  # the model from the settings
    assert result.returncode == 0, result.stderr
    decoding = json.loads(result.stdout)["decoding"]
    notes = [line for line in result.stderr.splitlines() if "repacking" in line]
    if "AMX" in decoding["machine"]:  # what llama.cpp reported in the worker
        assert notes == [
            "note: Weight repacking was not applied. Not available on this CPU: llama.cpp's "
            "AMX path crashes with Q4_K weights."
        ]
        assert decoding["repack_weights"] is False and "AMX" not in decoding["buffer_types"]
    else:
        assert notes == []
        assert decoding["repack_weights"] is True and "REPACK" in decoding["buffer_types"]


def test_study_fields_from_options_and_a_file_reach_the_json_and_the_pdf(
    scan: Path, tmp_path: Path
) -> None:
    study_file = tmp_path / "study.json"
    study_file.write_text(json.dumps({"patient_id": "TEST-0001", "indication": "palpitations"}))
    report = tmp_path / "report.pdf"
    result = ecgviewer(
        "interpret", str(scan), *pair(), "--max-tokens", "4", "--ctx", "1024", "--json",
        "--study", str(study_file), "--patient-name", "Test Person", "--birth-date",
        "1961-04-23", "--sex", "f", "--recorded-at", "2026-11-29T09:41",
        "--requested-by", "Dr Example", "--indication", "syncope", "--pdf", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    study = json.loads(result.stdout)["study"]
    assert study == {
        "patient_id": "TEST-0001", "name": "Test Person", "date_of_birth": "1961-04-23",
        "sex": "F", "acquisition_date": "2026-11-29T09:41",
        "referring_clinician": "Dr Example", "indication": "syncope",  # the option wins
    }  # fmt: skip
    first_page = PdfReader(report).pages[0].extract_text()
    for value in ("TEST-0001", "Test Person", "1961-04-23", "Dr Example", "syncope"):
        assert value in first_page, value
    reused = tmp_path / "again.json"
    reused.write_text(json.dumps(study))  # what --json printed is what --study reads
    again = ecgviewer("interpret", str(scan), *pair(), "--max-tokens", "2", "--ctx", "1024",
                      "--json", "--study", str(reused))  # fmt: skip
    assert json.loads(again.stdout)["study"] == study


def test_a_bad_study_field_is_exit_2_before_the_model_loads(scan: Path, tmp_path: Path) -> None:
    bad = ecgviewer("interpret", str(scan), *pair(), "--birth-date", "23.04.1961")
    assert bad.returncode == 2 and "is not a date like 1961-04-23" in bad.stderr
    (tmp_path / "s.json").write_text('{"patient": "x"}')
    unknown = ecgviewer("interpret", str(scan), *pair(), "--study", str(tmp_path / "s.json"))
    assert unknown.returncode == 2 and "unknown fields: patient" in unknown.stderr
