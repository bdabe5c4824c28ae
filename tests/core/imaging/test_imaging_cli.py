"""`ecgviewer preprocess` as a separate process: the stable contract used by checks."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ecgviewer.core.imaging.geometry import map_points

REPO = Path(__file__).resolve().parents[3]


def preprocess(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecgviewer", "preprocess", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def photo_file(
    page: Image.Image, photo: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    shot = photo(page, roll=-7, pitch=10, yaw=12, seed=4)
    path = tmp_path_factory.mktemp("cli") / "photo.jpg"
    shot.image.save(path, quality=92)
    return path, shot


def test_json_contract_and_outputs(
    photo_file: tuple[Path, Any], tmp_path: Path, measure: Callable[..., Any]
) -> None:
    path, shot = photo_file
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    out, model_in = tmp_path / "straight.png", tmp_path / "model.png"
    done = preprocess(str(path), "--json", "--out", str(out), "--model-input", str(model_in))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    transform = np.array(report["transform"], dtype=float)
    assert transform.shape == (3, 3) and transform[2, 2] == pytest.approx(1.0)
    assert report["output_size"] == list(Image.open(out).size)
    assert isinstance(report["elapsed_ms"], float | int) and report["elapsed_ms"] >= 0
    assert report["steps"][0]["op"] == "perspective"
    assert all("op" in s and "source" in s for s in report["steps"])
    found = measure(transform, shot.corners, tuple(report["output_size"]))
    assert found.edge_deg <= 0.5 and found.kept >= 0.97 and found.background <= 0.05
    assert Image.open(model_in).size == (896, 896)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.png", "straight.png"]


def test_manual_crop_without_auto(photo_file: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = photo_file
    out = tmp_path / "crop.png"
    done = preprocess(
        str(path), "--no-auto", "--crop", "10,20,110,220", "--json", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["output_size"] == [100, 200]
    assert report["steps"] == [{"op": "crop", "box": [10, 20, 110, 220], "source": "manual"}]
    assert np.allclose(report["transform"], [[1, 0, -10], [0, 1, -20], [0, 0, 1]])
    source = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(out)), source[20:220, 10:110])


def test_manual_rotation_sign_and_quarter_turns(photo_file: tuple[Path, Any]) -> None:
    path, _ = photo_file
    width, height = Image.open(path).size
    done = preprocess(str(path), "--no-auto", "--rotate", "90", "--json")
    report = json.loads(done.stdout)
    assert report["output_size"] == [height, width]
    # +90: content seen turned clockwise is turned back counter-clockwise
    top_left, top_right = map_points(np.array(report["transform"]), [(0, 0), (width - 1, 0)])
    assert top_left == pytest.approx([0, width - 1]) and top_right == pytest.approx([0, 0])
    small = preprocess(str(path), "--no-auto", "--rotate", "-4.5", "--json")
    steps = json.loads(small.stdout)["steps"]
    assert steps[0]["op"] == "deskew" and steps[0]["angle_deg"] == -4.5
    assert steps[0]["source"] == "manual"


def test_pdf_page_option(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import landscape, letter
    from reportlab.pdfgen import canvas

    path = tmp_path / "two.pdf"
    doc = canvas.Canvas(str(path), pagesize=landscape(letter))
    for label in ("first", "second"):
        doc.drawString(50, 500, label)
        doc.showPage()
    doc.save()
    done = preprocess(str(path), "--page", "2", "--json", "--no-auto")
    report = json.loads(done.stdout)
    assert (report["page"], report["page_count"], report["format"]) == (2, 2, "PDF")
    assert report["output_size"] == [2200, 1700]
    assert preprocess(str(path), "--page", "3").returncode == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}"], "does not exist"),
        (["{text}"], "not an image"),
        (["{text}", "--crop", "1,2,3"], "four numbers"),
        (["{text}", "--crop", "5,5,1,1"], "empty"),
        (["{text}", "--page", "0"], "numbered from 1"),
        (["{text}", "--out", "{nowhere}/x.png"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    names = {
        "missing": str(tmp_path / "gone.png"),
        "text": str(text),
        "nowhere": str(tmp_path / "no"),
    }
    done = preprocess(*(a.format(**names) for a in args))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
