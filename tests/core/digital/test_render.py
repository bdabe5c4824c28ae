"""The digital renderer, checked in pixels: scale, grid, layout, labels, gaps and blanks.

Ink is measured on the red channel (255 - R): the red and pink grid and the white
paper all have R >= 254, the near-black trace and text have R about 26 or less.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecgviewer.core.cli.main import main
from ecgviewer.core.digital.record import STANDARD_LEADS, DigitalEcgError, EcgRecord
from ecgviewer.core.digital.render import (
    LAYOUTS,
    LeadBox,
    RenderedPage,
    RenderSettings,
    render_page,
)

HZ = 500
PX_PER_MM = 200 / 25.4  # 7.874
PX_PER_S = 25 * PX_PER_MM


def record(seconds: float = 10.0, skip: tuple[str, ...] = (), **shapes: np.ndarray) -> EcgRecord:
    """Flat leads (0 mV) for `seconds`, with the given leads' samples replaced."""
    flat = np.zeros(round(seconds * HZ), np.float32)
    leads = {name: shapes.get(name, flat) for name in STANDARD_LEADS if name not in skip}
    return EcgRecord(leads=leads, sampling_hz=HZ, format="test")


def pulse(
    start_s: float, width_s: float = 0.2, mv: float = 1.0, seconds: float = 10.0
) -> np.ndarray:
    samples = np.zeros(round(seconds * HZ), np.float32)
    samples[round(start_s * HZ) : round((start_s + width_s) * HZ)] = mv
    return samples


def ink(page: RenderedPage) -> np.ndarray:
    return 255.0 - np.asarray(page.image)[..., 0].astype(np.float64)


def centre(profile: np.ndarray, start: int) -> float:
    """Darkness-weighted centre of `profile` (pixel centres at start + i + 0.5)."""
    weights = np.clip(profile - 40, 0, None)  # anti-aliasing fringes below 40 are ignored
    return start + 0.5 + float((weights * np.arange(len(profile))).sum() / weights.sum())


def edges(ink_map: np.ndarray, y: int, x0: int, x1: int) -> list[float]:
    """Centres of the ink runs along row `y` between x0 and x1."""
    row = ink_map[y, x0:x1]
    runs = np.flatnonzero(np.diff(np.concatenate(([0], (row > 60).astype(int), [0]))))
    return [
        centre(row[a - 1 : b + 1], x0 + a - 1) for a, b in zip(runs[::2], runs[1::2], strict=True)
    ]


def level(ink_map: np.ndarray, x: int, y0: int, y1: int) -> float:
    """The trace's pixel row in column `x` (between y0 and y1)."""
    return centre(ink_map[y0:y1, x], y0)


def measure_pulse(
    page: RenderedPage, strip: LeadBox, x_rise: float, x_fall: float
) -> tuple[float, float]:
    """(height, width) in pixels of the square pulse drawn between x_rise and x_fall."""
    dark, y0, y1 = ink(page), strip.box[1] - 120, strip.box[3]  # a 2 mV pulse leaves the strip
    high = level(dark, round((x_rise + x_fall) / 2), y0, y1)
    low = level(dark, round(x_fall) + 15, y0, y1)
    middle = round((high + low) / 2)
    left, right = edges(dark, middle, round(x_rise) - 10, round(x_fall) + 10)
    return low - high, right - left


def test_page_is_us_letter_at_200_dpi() -> None:
    page = render_page(record())
    assert page.image.size == (2200, 1700)
    assert page.image.mode == "RGB"
    assert page.px_per_mm == pytest.approx(PX_PER_MM)


def test_a_1_mv_200_ms_square_pulse_is_10_mm_high_and_5_mm_wide() -> None:
    page = render_page(record(I=pulse(1.0)))
    strip = page.boxes["I"]
    height, width = measure_pulse(page, strip, strip.x_of(1.0, PX_PER_S), strip.x_of(1.2, PX_PER_S))
    assert height == pytest.approx(78.74, abs=0.6)
    assert width == pytest.approx(39.37, abs=0.6)


def test_gain_and_speed_scale_the_pulse() -> None:
    settings = RenderSettings(speed_mm_s=50, gain_mm_mv=20)
    page = render_page(record(I=pulse(0.5)), settings)
    strip, px_per_s = page.boxes["I"], 50 * PX_PER_MM
    x_rise, x_fall = strip.x_of(0.5, px_per_s), strip.x_of(0.7, px_per_s)
    height, width = measure_pulse(page, strip, x_rise, x_fall)
    assert height == pytest.approx(157.5, abs=0.6)
    assert width == pytest.approx(78.74, abs=0.6)
    assert strip.seconds == pytest.approx(1.2)  # 4 columns of 60 mm fit the page at 50 mm/s


def test_each_row_opens_with_a_1_mv_calibration_pulse() -> None:
    page = render_page(record())
    dark = ink(page)
    strips = [page.boxes[row[0]] for row in LAYOUTS["3x4+1"]] + [page.rhythm]
    for (x, baseline), strip in zip(page.layout.pulses, strips, strict=True):
        assert strip is not None and baseline == pytest.approx(strip.baseline_y)
        top = level(dark, round(x + 2.5 * PX_PER_MM), round(baseline - 100), round(baseline - 50))
        assert baseline - top == pytest.approx(78.74, abs=0.8)
        rise, fall = edges(dark, round(baseline - 40), round(x) - 10, round(x + 50))
        assert fall - rise == pytest.approx(39.37, abs=0.8)


def grid_centres(line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel indices of major (pure red) and minor (pale pink) line centres along `line`."""
    red, green = line[:, 0].astype(int), line[:, 1].astype(int)
    major = np.flatnonzero((red > 240) & (green < 60))
    minor = np.flatnonzero((red > 240) & (green > 210) & (green < 235))
    return major, minor


def pitch(positions: np.ndarray, about: float) -> float:
    """The spacing of lines at `positions` (pixel-snapped), fitted over the whole page."""
    steps = np.round((positions - positions[0]) / about)
    return float(np.polyfit(steps, positions, 1)[0])


def test_grid_pitch_is_1_mm_with_pure_red_5_mm_lines_and_pale_pink_1_mm_lines() -> None:
    pixels = np.asarray(render_page(record()).image)
    across = pixels[
        round(1700 - 200.5 * PX_PER_MM)
    ]  # between two horizontal lines, above the traces
    down = pixels[:, round(2.5 * PX_PER_MM)]  # left of the calibration pulses
    for line in (across, down):
        major, minor = grid_centres(line)
        every = np.sort(np.concatenate([major, minor]))
        assert pitch(every, PX_PER_MM) == pytest.approx(PX_PER_MM, abs=0.01)
        assert pitch(major, 5 * PX_PER_MM) == pytest.approx(5 * PX_PER_MM, abs=0.02)
        assert len(minor) == pytest.approx(4 * len(major), abs=4)
        assert np.abs(line[major].astype(int) - (255, 0, 0)).max() <= 10
        assert np.abs(line[minor].astype(int) - (254, 223, 219)).max() <= 10


def test_boxes_follow_the_3x4_layout_with_a_rhythm_strip() -> None:
    page = render_page(record())
    pitch_y = page.boxes["II"].baseline_y - page.boxes["I"].baseline_y
    for row_index, row in enumerate(LAYOUTS["3x4+1"]):
        for column, lead in enumerate(row):
            strip = page.boxes[lead]
            assert strip.start_s == pytest.approx(2.5 * column)
            assert strip.seconds == pytest.approx(2.5)
            assert strip.x0 == pytest.approx((15 + 62.5 * column) * PX_PER_MM)  # 10 mm + pulse
            assert strip.box[2] - strip.box[0] == pytest.approx(62.5 * PX_PER_MM, abs=1)
            assert strip.baseline_y == pytest.approx(
                page.boxes["I"].baseline_y + row_index * pitch_y
            )
            assert strip.box[1] < strip.baseline_y < strip.box[3]
    rhythm = page.rhythm
    assert rhythm is not None and rhythm.lead == "II"
    assert (rhythm.start_s, rhythm.seconds) == (0.0, pytest.approx(10.0))
    assert rhythm.baseline_y > page.boxes["III"].baseline_y + 0.9 * pitch_y


def test_column_k_shows_seconds_2_5k_to_2_5k_plus_2_5() -> None:
    spike = pulse(3.0, width_s=0.04)  # in every lead; only the second column's span holds 3.0 s
    page = render_page(record(**dict.fromkeys(STANDARD_LEADS, spike)))
    dark = ink(page)
    for lead in STANDARD_LEADS:
        strip = page.boxes[lead]
        x0, y0, x1, _ = strip.box
        above = dark[y0 : round(strip.baseline_y - 40), x0 + 2 : x1 - 2]  # 5 mm over the baseline
        assert (above.max() > 100) == (strip.start_s == 2.5), lead
    rhythm = page.rhythm
    assert rhythm is not None
    x = round(rhythm.x_of(3.02, PX_PER_S))
    assert dark[round(rhythm.baseline_y - 60), x - 3 : x + 4].max() > 100


def label_ink(dark: np.ndarray, strip: LeadBox) -> float:
    x, y = strip.label_at
    return float(
        dark[
            round(y - 4 * PX_PER_MM) : round(y + PX_PER_MM), round(x) : round(x + 12 * PX_PER_MM)
        ].sum()
    )


def test_every_strip_is_labelled_and_the_scale_printed() -> None:
    page = render_page(record())
    dark = ink(page)
    strips = [*page.boxes.values(), page.rhythm]
    for strip in strips:
        assert strip is not None and label_ink(dark, strip) > 20 * 255, strip.lead
    legend = dark[
        round(1700 - 9 * PX_PER_MM) : 1700, round(45 * PX_PER_MM) : round(130 * PX_PER_MM)
    ]
    assert legend.sum() > 200 * 255  # "25mm/s" and "10mm/mV"
    assert dark[: round(60 * PX_PER_MM)].max() < 30  # no header: the top of the page is grid only


@pytest.mark.parametrize(("layout", "rows", "columns"), [("6x2", 6, 2), ("12x1", 12, 1)])
def test_6x2_and_12x1_layouts(layout: str, rows: int, columns: int) -> None:
    page = render_page(record(), RenderSettings(layout=layout))
    dark = ink(page)
    assert page.image.size == (2200, 1700) and page.rhythm is None
    assert sorted(page.boxes) == sorted(STANDARD_LEADS)
    baselines = sorted({round(strip.baseline_y, 3) for strip in page.boxes.values()})
    assert len(baselines) == rows and np.ptp(np.diff(baselines)) < 0.01
    for row in LAYOUTS[layout]:
        for column, lead in enumerate(row):
            strip = page.boxes[lead]
            assert strip.seconds == pytest.approx(10 / columns)
            assert strip.start_s == pytest.approx(column * 10 / columns)
            assert strip.box[0] >= 0 and strip.box[2] <= 2200
            assert label_ink(dark, strip) > 20 * 255, lead
    for x, baseline in page.layout.pulses:  # one calibration pulse per row
        assert dark[round(baseline - 78.7), round(x + 20)] > 150


def test_a_missing_lead_is_blank_labelled_and_marked() -> None:
    page = render_page(record(skip=("V3",), V2=pulse(5.5), V4=pulse(7.5)))
    dark = ink(page)
    strip = page.boxes["V3"]
    assert page.blank == ("V3",)
    assert page.settings_json()["blank_leads"] == ["V3"]
    assert label_ink(dark, strip) > 20 * 255
    x0, y0, x1, _ = strip.box
    note = dark[
        round(strip.baseline_y - 15) : round(strip.baseline_y + 15),
        round(strip.x0) : round(strip.x0 + 30 * PX_PER_MM),
    ]
    assert note.sum() > 100 * 255  # "not recorded"
    assert dark[y0 : round(strip.baseline_y - 20), x0 + 5 : x1 - 5].max() < 30  # no trace
    assert (
        dark[
            round(strip.baseline_y) - 2 : round(strip.baseline_y) + 3,
            round(strip.x0 + 35 * PX_PER_MM) : x1 - 5,
        ].max()
        < 30
    )


def test_a_short_record_draws_what_there_is() -> None:
    page = render_page(record(seconds=4.0))
    dark = ink(page)
    assert page.seconds == pytest.approx(4.0)
    rhythm = page.rhythm
    assert rhythm is not None
    y = round(rhythm.baseline_y)
    assert dark[y - 2 : y + 3, round(rhythm.x_of(3.9, PX_PER_S))].max() > 150
    assert dark[y - 2 : y + 3, round(rhythm.x_of(4.1, PX_PER_S)) : rhythm.box[2]].max() < 30
    for lead in ("V1", "V4"):  # columns from 5 s on: nothing recorded there
        strip = page.boxes[lead]
        assert (
            dark[
                round(strip.baseline_y) - 2 : round(strip.baseline_y) + 3,
                strip.box[0] + 5 : strip.box[2] - 5,
            ].max()
            < 30
        )


def test_nan_samples_leave_a_gap() -> None:
    samples = np.zeros(10 * HZ, np.float32)
    samples[round(1.0 * HZ) : round(1.5 * HZ)] = np.nan
    page = render_page(record(I=samples))
    dark, strip = ink(page), page.boxes["I"]
    y = round(strip.baseline_y)
    for seconds, drawn in ((0.9, True), (1.1, False), (1.4, False), (1.6, True)):
        x = round(strip.x_of(seconds, PX_PER_S))
        assert (dark[y - 3 : y + 4, x].max() > 150) == drawn, seconds


def test_settings_say_what_drew_the_page() -> None:
    settings = render_page(record(), RenderSettings(layout="6x2")).settings_json()
    assert settings["renderer"] == "ecgviewer.digital.render"
    assert (settings["layout"], settings["speed_mm_s"], settings["gain_mm_mv"]) == ("6x2", 25, 10)
    assert (settings["dpi"], settings["page_in"], settings["size"]) == (
        200,
        [11, 8.5],
        [2200, 1700],
    )
    assert settings["px_per_mm"] == pytest.approx(PX_PER_MM, abs=1e-3)
    with pytest.raises(DigitalEcgError, match="layout"):
        RenderSettings(layout="4x3")


def write_wfdb(folder: Path) -> Path:
    wfdb = pytest.importorskip("wfdb")
    signals = np.stack([pulse(1.0)] * 12, axis=1).astype(np.float64)
    wfdb.wrsamp("rec", fs=HZ, units=["mV"] * 12, sig_name=list(STANDARD_LEADS),
                p_signal=signals, fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
                write_dir=str(folder))  # fmt: skip
    return folder / "rec.hea"


@pytest.mark.usefixtures("home")
def test_cli_renders_png_and_pdf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = write_wfdb(tmp_path)
    assert main(["render", str(header), "--out", str(tmp_path / "page.png")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "page.png")
    with Image.open(tmp_path / "page.png") as image:
        assert image.size == (2200, 1700)
    assert main(["render", str(header), "--layout", "12x1", "--out", str(tmp_path / "p.pdf")]) == 0
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.usefixtures("home")
def test_cli_refuses_a_file_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an ECG", encoding="utf-8")
    assert main(["render", str(text)]) == 2
    assert "not a digital ECG format ECG Viewer reads" in capsys.readouterr().err
    assert main(["render", str(write_wfdb(tmp_path)), "--out", str(tmp_path / "x.jpg")]) == 2


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECGVIEWER_HOME", str(tmp_path / "home"))
