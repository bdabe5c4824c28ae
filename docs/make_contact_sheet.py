"""Contact sheet of every shared digital ECG, opened as the window opens it, and a screenshot
of the window with a digital case and its facts line (issue 19).

    QT_QPA_PLATFORM=offscreen python docs/make_contact_sheet.py [SAMPLES]

SAMPLES defaults to ../shared/ecg-samples. Every recording in its waveforms/ and
digital/ folders goes through `workspace.open_case` (a WFDB record once, however
many files it has); each tile is the drawn page with the file name and the facts
the window shows. Writes docs/screenshots/digital-contact-sheet.png and
docs/screenshots/digital-case.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from ecgviewer.core.digital.case_page import one_per_record, record_files  # noqa: E402
from ecgviewer.core.digital.facts_text import facts_lines, render_step_of  # noqa: E402
from ecgviewer.core.errors import EcgViewerError  # noqa: E402
from ecgviewer.core.paths import resources_dir  # noqa: E402
from ecgviewer.core.workspace import open_case  # noqa: E402

OUT = REPO / "docs" / "screenshots"
SKIP = {"MANIFEST.tsv", "LICENSES.md"}
COLUMNS, TILE_W, TEXT_H, GAP = 4, 660, 118, 16


def recordings(samples: Path) -> list[Path]:
    """One path per recording in waveforms/ and digital/, in folder order."""
    files = sorted(p for folder in ("waveforms", "digital") for p in (samples / folder).rglob("*")
                   if p.is_file() and p.name not in SKIP)  # fmt: skip
    return one_per_record(files)


def tile(path: Path, samples: Path, fonts: tuple[ImageFont.FreeTypeFont, ...]) -> Image.Image:
    """The drawn page, scaled, over its name and facts (or the reader's message)."""
    bold, small = fonts
    canvas = Image.new("RGB", (TILE_W, TILE_W * 17 // 22 + TEXT_H), "white")
    draw = ImageDraw.Draw(canvas)
    names = "+".join(f.name if i == 0 else f.suffix for i, f in enumerate(record_files(path)))
    title = f"{path.parent.relative_to(samples)}/{names}"
    if bold.getlength(title) > TILE_W - 8:  # a long name: the folder makes room
        title = names
    draw.text((4, 2), title, fill="black", font=bold)
    try:
        opened = open_case(path)
    except EcgViewerError as error:
        draw.text((4, 30), error.message, fill=(180, 0, 0), font=small)
        return canvas
    step = render_step_of(opened.case.steps) or {}
    lines = [text for line in facts_lines(step) for text in wrap(line, small, TILE_W - 8)]
    for row, text in enumerate(lines[:5]):
        draw.text((4, 26 + 18 * row), text, fill=(40, 40, 40), font=small)
    page = opened.result.resize((TILE_W, TILE_W * 17 // 22), Image.Resampling.LANCZOS)
    canvas.paste(page, (0, TEXT_H))
    return canvas


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            candidate = word
        line = candidate
    return [*lines, line] if line else lines


def contact_sheet(samples: Path) -> Path:
    font_file = str(resources_dir() / "fonts" / "DejaVuSans.ttf")
    fonts = (ImageFont.truetype(font_file.replace("Sans", "Sans-Bold"), 17)
             if Path(font_file.replace("Sans", "Sans-Bold")).is_file()
             else ImageFont.truetype(font_file, 17), ImageFont.truetype(font_file, 14))  # fmt: skip
    tiles = [tile(path, samples, fonts) for path in recordings(samples)]
    rows = -(-len(tiles) // COLUMNS)
    width, height = tiles[0].size
    sheet = Image.new("RGB", (COLUMNS * (width + GAP) + GAP, rows * (height + GAP) + GAP),
                      (200, 204, 210))  # fmt: skip
    for index, image in enumerate(tiles):
        row, column = divmod(index, COLUMNS)
        sheet.paste(image, (GAP + column * (width + GAP), GAP + row * (height + GAP)))
    target = OUT / "digital-contact-sheet.png"
    sheet.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        target, optimize=True
    )
    return target


def window_screenshot(samples: Path) -> Path:
    """The window with a DICOM recording open: drawn page, facts line, proposed fields."""
    from docs.make_screenshots import wait_until
    from ecgviewer.core.paths import app_paths
    from ecgviewer.core.settings import Settings
    from ecgviewer.gui.application import create_application
    from ecgviewer.gui.main_window import MainWindow

    os.environ["ECGVIEWER_HOME"] = tempfile.mkdtemp()
    create_application(sys.argv[:1])
    window = MainWindow(app_paths().ensure(), Settings(disclaimer_acknowledged=True))
    window.resize(1440, 900)
    window.show()
    window.open_paths([samples / "digital" / "dicom" / "mortara_eli250_anonymous_ecg.dcm"])
    wait_until(lambda: window.cases and window.case_header.facts_label.isVisible(), 30)
    wait_until(lambda: False, 1.0)  # let the previews and the view settle
    target = OUT / "digital-case.png"
    window.grab().save(str(target))
    window.close()
    return target


def main() -> int:
    samples = Path(sys.argv[1]) if sys.argv[1:] else REPO.parent / "shared" / "ecg-samples"
    print(contact_sheet(samples))
    print(window_screenshot(samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
