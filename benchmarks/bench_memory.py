"""Peak memory of the inference worker with mmap and weight repacking on and off.

    python benchmarks/make_standin.py     # once: writes the stand-in pair
    python benchmarks/bench_memory.py [--model T --mmproj M] [--configs all|default]

For each configuration a fresh ModelRuntime loads the pair in its worker
process and answers one question about a fresh image (encode, prefill, 16
tokens). Reported per configuration: the worker's peak resident memory
(VmHWM) against the two files' size, its resident memory at the end split
into anonymous and file-backed pages, load time, image encode, prefill of the
image tokens and decode speed. Runs one configuration at a time, each in its
own worker process. Labelled "random weights, MedGemma-4B shapes" when run on
the stand-in (the default). Not part of CI: a minute or two per configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_inference import PROMPT, images, machine  # noqa: E402
from benchmarks.make_standin import MMPROJ_NAME, TEXT_NAME  # noqa: E402
from ecgviewer.core.inference.client import Finished, Prepared, TextDelta  # noqa: E402
from ecgviewer.core.inference.runtime import ModelRuntime  # noqa: E402
from ecgviewer.core.paths import app_paths  # noqa: E402
from ecgviewer.core.settings import ModelSettings  # noqa: E402
from tests.support import models  # noqa: E402

CONFIGS = {  # name: (use_mmap, repack_weights); the app's default first
    "mmap on, repack off (app default)": (True, False),
    "mmap on, repack on (llama.cpp default)": (True, True),
    "mmap off, repack on": (False, True),
    "mmap off, repack off": (False, False),
}


def memory_mb(pid: int) -> dict[str, float]:
    """VmHWM, VmRSS, RssAnon and RssFile of a process (Linux), in MB."""
    wanted = ("VmHWM", "VmRSS", "RssAnon", "RssFile")
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key = line.split(":", 1)[0]
            if key in wanted:
                values[key] = int(line.split()[1]) / 1024
    return values


def measure(args: argparse.Namespace, mmap: bool, repack: bool, png: bytes) -> dict[str, float]:
    settings = ModelSettings(n_ctx=4096, n_threads=args.threads, max_tokens=16,
                             use_mmap=mmap, repack_weights=repack, prefix_cache_mb=0)  # fmt: skip
    runtime = ModelRuntime(app_paths().ensure())
    try:
        loaded = runtime.load(args.model, args.mmproj, settings)
        pid = runtime.worker_pid
        assert pid is not None
        after_load = memory_mb(pid)
        result = {"load_ms": loaded.load_ms, "rss_after_load": after_load["VmRSS"]}
        first = last = 0.0
        for event in runtime.interpret(png, PROMPT, max_tokens=16):
            if isinstance(event, Prepared):
                result["encode_ms"] = event.times["image_encode_ms"]
                result["prefill_ms"] = event.times["prompt_prefill_ms"]
            elif isinstance(event, TextDelta):
                last = time.perf_counter()
                first = first or last
            elif isinstance(event, Finished):
                tokens = int(event.times["decode_tokens"])
                result["tps"] = (tokens - 1) / (last - first) if last > first else float("nan")
        end = memory_mb(pid)
        result.update(peak=end["VmHWM"], rss=end["VmRSS"], anon=end["RssAnon"],
                      file=end["RssFile"])  # fmt: skip
        return result
    finally:
        runtime.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=models.cache_dir() / TEXT_NAME)
    parser.add_argument("--mmproj", type=Path, default=models.cache_dir() / MMPROJ_NAME)
    parser.add_argument("--configs", choices=("all", "default"), default="all")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    os.environ["ECGVIEWER_HOME"] = tempfile.mkdtemp()
    chosen = list(CONFIGS.items()) if args.configs == "all" else list(CONFIGS.items())[:1]
    pngs = images(len(chosen))
    size_mb = (args.model.stat().st_size + args.mmproj.stat().st_size) / 1024**2
    rows = []
    for (name, (mmap, repack)), png in zip(chosen, pngs, strict=False):
        result = measure(args, mmap, repack, png)
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {result}", file=sys.stderr, flush=True)
        rows.append((name, result))
    label = "random weights, MedGemma-4B shapes" if args.model.name == TEXT_NAME else "real weights"
    print(f"{label}: {args.model.name} + {args.mmproj.name} ({size_mb:.0f} MB of files)")
    print(f"machine: {machine()}; {args.threads} threads, n_ctx 4096")
    print("| configuration | peak RSS | x files | end RSS (anon + file) | load | "
          "image encode | image prefill | decode |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['peak']:.0f} MB | {r['peak'] / size_mb:.2f} | {r['rss']:.0f} MB "
              f"({r['anon']:.0f} + {r['file']:.0f}) | {r['load_ms'] / 1000:.1f} s | "
              f"{r['encode_ms'] / 1000:.1f} s | {r['prefill_ms'] / 1000:.1f} s | "
              f"{r['tps']:.2f} tok/s |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
