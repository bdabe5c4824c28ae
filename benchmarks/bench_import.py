"""Time, memory and disk of `ecgviewer models import` on a MedGemma-4B-shaped checkpoint.

    python benchmarks/make_hf_standin.py            # once: the random-weight checkpoint
    python benchmarks/bench_import.py [--quant Q4_K_M] [--calibration-images 8] [--no-check]

Runs the core's `import_checkpoint` (what the CLI and the dialog run) and
samples, every half second, the resident memory of this process and of its
children (calibration, quantization and perplexity run in child processes; the
conversion check in the app's inference worker), and the bytes in the output
folder (temporary files included). Prints wall time per stage, the peak of
each, and the machine. Results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_inference import machine  # noqa: E402
from benchmarks.make_hf_standin import DEFAULT_NAME  # noqa: E402
from ecgviewer.core.modelimport.importer import ImportRequest, import_checkpoint  # noqa: E402
from tests.support import models  # noqa: E402


def tree_rss_mb(root: int, field: str = "VmRSS:") -> float:
    """Resident memory of `root` and all its descendants (Linux /proc): all of it
    (VmRSS, mapped model files included) or the private part (RssAnon)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        stack += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def folder_bytes(folder: Path) -> int:
    total = 0
    for base, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(base) / name).stat().st_size
            except OSError:
                continue
    return total


class Sampler:
    """Peaks of memory (process tree) and disk (output folder), per stage."""

    def __init__(self, out: Path) -> None:
        self.out, self.stage = out, "start"
        self.peaks: dict[str, tuple[float, int]] = {}
        self.private: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self._stop = threading.Event()

    def progress(self, stage: str, _fraction: float) -> None:
        if stage != self.stage:
            self.stage = stage
            self.started.setdefault(stage, time.perf_counter())

    def run(self) -> None:
        while not self._stop.wait(0.5):
            rss, disk = tree_rss_mb(os.getpid()), folder_bytes(self.out)
            anon = tree_rss_mb(os.getpid(), "RssAnon:")
            old = self.peaks.get(self.stage, (0.0, 0))
            self.peaks[self.stage] = (max(old[0], rss), max(old[1], disk))
            self.private[self.stage] = max(self.private.get(self.stage, 0.0), anon)

    def stop(self) -> None:
        self._stop.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=models.cache_dir() / DEFAULT_NAME)
    parser.add_argument("--quant", default="Q4_K_M")
    parser.add_argument("--calibration-images", type=int, default=8)
    parser.add_argument("--imatrix", default="auto")
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bench-import-"))
    sampler = Sampler(out)
    watcher = threading.Thread(target=sampler.run, daemon=True)
    watcher.start()
    request = ImportRequest(args.checkpoint, out, args.quant, threads=os.cpu_count() or 2,
                            check=not args.no_check, imatrix=args.imatrix,
                            calibration_images=args.calibration_images)  # fmt: skip
    start = time.perf_counter()
    result = import_checkpoint(request, sampler.progress, lambda: False)
    total = time.perf_counter() - start
    sampler.stop()
    print(f"machine: {machine()}")
    size = result.source["size_bytes"] / 1e9
    print(f"checkpoint: {args.checkpoint.name} ({size:.2f} GB, {result.source['dtype']}); "
          f"quantization {args.quant}; imatrix {result.imatrix}")  # fmt: skip
    print(f"{'stage':10} {'wall s':>8} {'peak RSS MB':>12} {'private MB':>11} {'disk GB':>8}")
    for stage, ms in ((k.removesuffix("_ms"), v) for k, v in result.timings.items()):
        rss, disk = sampler.peaks.get(stage, (0.0, 0))
        anon = sampler.private.get(stage, 0.0)
        print(f"{stage:10} {ms / 1000:8.1f} {rss:12.0f} {anon:11.0f} {disk / 1e9:8.2f}")
    print(f"{'total':10} {total:8.1f}")
    print(json.dumps({"check": result.check, "sizes": {
        "text_model": result.text_model.stat().st_size, "mmproj": result.mmproj.stat().st_size}},
        indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
