"""Time drawing one 10 s, 12-lead, 500 Hz record as a paper page, on one core.

    python benchmarks/bench_render.py [--repeat N] [--json]

Draws the synthetic sample's beats (core.imaging.synthetic, as an EcgRecord) with
`render_page` in each layout. "first" is the first page for a setting (the grid,
labels and pulses drawn and cached); "page" is every later page (a copy of that
background plus the traces): the case of a folder of records or an evaluation.
PNG encoding is timed apart (the app encodes the model input, not this page).
OpenCV is limited to one thread. Prints the median and best wall-clock and CPU
milliseconds; target: page <= 150 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ecgviewer.core.digital import paper  # noqa: E402
from ecgviewer.core.digital.render import LAYOUTS, RenderSettings, render_page  # noqa: E402
from ecgviewer.core.imaging.synthetic import synthetic_record  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="pages per layout (default 30)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    record = synthetic_record(heart_rate=72, seconds=10.0, hz=500)
    rows = [_measure(layout, record, args.repeat) for layout in LAYOUTS]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print("layout    first ms   page ms median / best   cpu ms   png ms")
        for row in rows:
            times = (row["first_ms"], row["page_ms"], row["page_best_ms"], row["page_cpu_ms"])
            print(f"{row['layout']:8} {times[0]:9.1f} {times[1]:16.1f} / {times[2]:5.1f} "
                  f"{times[3]:8.1f} {row['png_ms']:8.1f}")  # fmt: skip
    return 0


def _measure(layout: str, record: Any, repeat: int) -> dict[str, Any]:
    settings = RenderSettings(layout=layout)
    paper.background.cache_clear()
    first, _ = _timed(lambda: render_page(record, settings))
    times = [_timed(lambda: render_page(record, settings)) for _ in range(repeat)]
    page = render_page(record, settings)
    png, _ = _timed(lambda: page.image.save(io.BytesIO(), format="PNG"))
    walls = [wall for wall, _ in times]
    return {
        "layout": layout,
        "samples_hz": record.sampling_hz,
        "seconds": record.duration_s,
        "first_ms": first,
        "page_ms": statistics.median(walls),
        "page_best_ms": min(walls),
        "page_cpu_ms": statistics.median(cpu for _, cpu in times),
        "png_ms": png,
    }


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall, cpu) milliseconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


if __name__ == "__main__":
    raise SystemExit(main())
