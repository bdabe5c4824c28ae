"""Regenerate the app icon renditions from resources/icons/ecgviewer.svg.

PNG sizes for the Linux hicolor theme (16 ... 512) are rasterised by
`rsvg-convert` (Debian package librsvg2-bin); the Windows .ico and the macOS
.icns are assembled from those PNGs with Pillow. Run it after editing the SVG:

    python packaging/make_icons.py          # writes resources/icons/
    python packaging/make_icons.py --check  # exit 1 if a rendition is missing or stale
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SOURCE = ICONS / "ecgviewer.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def png_path(size: int, folder: Path = ICONS) -> Path:
    """Where the square PNG rendition of `size` pixels lives."""
    return folder / f"ecgviewer-{size}.png"


def rasterise(svg: Path, size: int, target: Path) -> Path:
    """Render `svg` to a `size` x `size` RGBA PNG at `target`."""
    tool = shutil.which("rsvg-convert")
    if tool is None:
        raise SystemExit("make_icons: rsvg-convert not found (apt-get install librsvg2-bin)")
    subprocess.run(
        [tool, "--width", str(size), "--height", str(size), "-o", str(target), str(svg)],
        check=True,
    )
    return target


def build(folder: Path) -> list[Path]:
    """Write every rendition into `folder`; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [rasterise(SOURCE, size, png_path(size, folder)) for size in PNG_SIZES]
    with tempfile.TemporaryDirectory() as scratch:
        big = rasterise(SOURCE, 1024, Path(scratch) / "ecgviewer-1024.png")
        images = {size: Image.open(png_path(size, folder)).convert("RGBA") for size in PNG_SIZES}
        images[1024] = Image.open(big).convert("RGBA")
        ico = folder / "ecgviewer.ico"
        images[256].save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES])
        icns = folder / "ecgviewer.icns"
        largest = images[1024]
        others = [images[s] for s in ICNS_SIZES if s != 1024]
        largest.save(icns, format="ICNS", append_images=others)
    return [*written, ico, icns]


def _same(a: Path, b: Path) -> bool:
    """Compare pixels for PNGs (encoders differ in metadata), bytes otherwise."""
    if not b.exists():
        return False
    if a.suffix == ".png":
        with Image.open(a) as left, Image.open(b) as right:
            return left.convert("RGBA").tobytes() == right.convert("RGBA").tobytes()
    return a.read_bytes() == b.read_bytes()


def check() -> int:
    """Exit status 0 when every rendition exists and matches a fresh render."""
    with tempfile.TemporaryDirectory() as scratch:
        stale = [f.name for f in build(Path(scratch)) if not _same(f, ICONS / f.name)]
    for name in stale:
        print(f"make_icons: {name} is missing or out of date", file=sys.stderr)
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the renditions")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    for path in build(ICONS):
        print(path.relative_to(ICONS.parents[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
