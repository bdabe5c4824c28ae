"""Time the automatic preprocessing pipeline per image, on one core.

    python benchmarks/bench_preprocess.py [--samples DIR] [--repeat N] [--threads N]
                                          [--grid-scale] [--json]

Runs `auto_preprocess` + rendering of the result (decoding and encoding are
not timed) over every image and the first page of every PDF in
../shared/ecg-samples and tests/data/photos (real photos of printouts on desks),
plus two synthetic US Letter pages (a straight scan and a photo in perspective)
so it runs anywhere. Prints wall-clock and CPU time
per image (best of N runs), the median and the worst. OpenCV is limited to one
thread by default, as on a single core. CPU time is the fairer number on a
busy machine.

--grid-scale also measures, on each model input, how many pixels per
millimetre of ECG grid survive when the page is stretched to 896 x 896 (what
the app sends) or letterboxed (what llama.cpp would do by itself).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ecgviewer.core.imaging.grid import gray_darkness, period_ratio  # noqa: E402
from ecgviewer.core.imaging.loading import load_image  # noqa: E402
from ecgviewer.core.imaging.model_input import MODEL_INPUT_SIZE, model_input_image  # noqa: E402
from ecgviewer.core.imaging.pipeline import auto_preprocess  # noqa: E402
from ecgviewer.core.imaging.synthetic import render  # noqa: E402

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pdf"}
DEFAULT_SAMPLES = REPO.parent / "shared" / "ecg-samples"
PHOTOS = REPO / "tests" / "data" / "photos"  # real photos of printouts on desks


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cv2.setNumThreads(args.threads)
    cases = _synthetic_cases() + _sample_cases(args.samples) + _sample_cases(PHOTOS, "photos/")
    rows = [_measure(name, image, args.repeat, args.grid_scale) for name, image in cases]
    if args.json:
        print(json.dumps({"rows": rows, "summary": _summary(rows)}, indent=2))
    else:
        _print_table(rows, args)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--repeat", type=int, default=3, help="runs per image (best is kept)")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1)")
    parser.add_argument("--grid-scale", action="store_true", help="measure px/mm kept")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _synthetic_cases() -> list[tuple[str, Image.Image]]:
    page = render().image  # 2200 x 1700, 200 dpi
    tilted = page.rotate(
        -6, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=(90, 70, 50)
    )
    return [("synthetic/page-2200x1700", page), ("synthetic/photo-rotated-6deg", tilted)]


def _sample_cases(folder: Path, prefix: str = "") -> list[tuple[str, Image.Image]]:
    if not folder.is_dir():
        print(f"(no samples at {folder}; synthetic pages only)", file=sys.stderr)
        return []
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    return [(prefix + str(p.relative_to(folder)), load_image(p, 0).image) for p in files]


def _measure(name: str, image: Image.Image, repeat: int, grid_scale: bool) -> dict[str, Any]:
    walls, cpus, steps = [], [], []
    for _ in range(max(1, repeat)):
        wall, cpu = time.perf_counter(), time.process_time()
        ecg = auto_preprocess(image)
        result = ecg.result
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        steps = [s.op for s in ecg.steps]
    row: dict[str, Any] = {
        "image": name,
        "size": list(image.size),
        "wall_ms": round(min(walls), 1),
        "cpu_ms": round(min(cpus), 1),
        "steps": steps,
    }
    if grid_scale:
        row.update(_grid_scale(result))
    return row


def _grid_scale(result: Image.Image) -> dict[str, Any]:
    """Stretch versus letterbox: the black share of the letterboxed input, and how many times
    more grid pixels per mm the stretched input keeps along x and y (expected and measured
    by matching the grid's autocorrelation in the two images)."""
    width, height = result.size
    scale = MODEL_INPUT_SIZE / max(width, height)
    content = (math.ceil(width * scale - 1e-9), math.ceil(height * scale - 1e-9))
    boxed = np.asarray(result.resize(content, Image.Resampling.BILINEAR).convert("L"))
    stretched = np.asarray(model_input_image(result).convert("L"))
    dark_s, dark_b = gray_darkness(stretched), gray_darkness(boxed)
    gain_x = period_ratio(dark_s.mean(axis=0), dark_b.mean(axis=0), 2.5)
    gain_y = period_ratio(dark_s.mean(axis=1), dark_b.mean(axis=1), 2.5)
    return {
        "black_share": round(1 - content[0] * content[1] / MODEL_INPUT_SIZE**2, 3),
        "gain_expected": [
            round(MODEL_INPUT_SIZE / width / scale, 3),
            round(MODEL_INPUT_SIZE / height / scale, 3),
        ],
        "gain_measured": [None if g is None else round(g, 3) for g in (gain_x, gain_y)],
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(values), 1), "worst": round(max(values), 1)}

    pages = [r for r in rows if r["size"][0] * r["size"][1] >= 3_000_000]
    return {
        "all_wall": stats([r["wall_ms"] for r in rows]),
        "all_cpu": stats([r["cpu_ms"] for r in rows]),
        "page_wall": stats([r["wall_ms"] for r in pages]) if pages else None,
        "page_cpu": stats([r["cpu_ms"] for r in pages]) if pages else None,
        "images": len(rows),
        "pages_2200x1700_or_larger": len(pages),
    }


def _print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    head = "| image | size | wall ms | CPU ms | steps |"
    rule = "|---|---|---:|---:|---|"
    if args.grid_scale:
        head += " black if letterboxed | stretch gain x, y (expected) | measured |"
        rule += "---:|---|---|"
    print(head)
    print(rule)
    for r in rows:
        line = f"| {r['image']} | {r['size'][0]}x{r['size'][1]} | {r['wall_ms']} | {r['cpu_ms']} | "
        line += f"{', '.join(r['steps']) or '-'} |"
        if args.grid_scale:
            line += f" {r['black_share']:.0%} | {r['gain_expected']} | {r['gain_measured']} |"
        print(line)
    _print_summary(_summary(rows), args)


def _print_summary(summary: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    print(f"images: {summary['images']} (OpenCV threads: {args.threads}, best of {args.repeat})")
    for label, wall, cpu in (
        ("all images", summary["all_wall"], summary["all_cpu"]),
        (">= 2200x1700", summary["page_wall"], summary["page_cpu"]),
    ):
        if wall:
            print(
                f"{label:13s} wall median {wall['median']} ms, worst {wall['worst']} ms; "
                f"CPU median {cpu['median']} ms, worst {cpu['worst']} ms"
            )


if __name__ == "__main__":
    raise SystemExit(main())
