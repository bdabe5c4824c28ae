"""Latency on the MedGemma-4B-shaped stand-in: cold, warm and follow-up answers.

    python benchmarks/make_standin.py        # once: writes the stand-in pair
    python benchmarks/bench_latency.py [--runs 3] [--max-tokens 32] [--model T --mmproj M]
                                       [--app-only]

Prints, as median (min-max) over --runs, labelled "random weights, MedGemma-4B
shapes": cold time to first token for the app path, bare llama-cpp-python with
its defaults and bare with flash attention; warm time to first token (image
already prepared); follow-up time to first token; decode tokens/s app vs bare;
and the worker's peak resident memory. Not part of CI (minutes per run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_inference import PROMPT, bare_llama, bare_run, images, machine  # noqa: E402
from benchmarks.make_standin import MMPROJ_NAME, TEXT_NAME  # noqa: E402
from ecgviewer.core.inference.client import Finished, TextDelta  # noqa: E402
from ecgviewer.core.inference.runtime import ModelRuntime  # noqa: E402
from ecgviewer.core.paths import app_paths  # noqa: E402
from ecgviewer.core.settings import ModelSettings  # noqa: E402
from tests.support import models  # noqa: E402

FOLLOW_UP = "What is the heart rate?"


def peak_rss_mb(pid: int | None) -> float:
    """VmHWM of a process (Linux), in MB."""
    if pid is None:
        return float("nan")
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def ask(runtime: ModelRuntime, png: bytes, question: str, max_tokens: int,
        history: list[tuple[str, str]] | None = None) -> tuple[float, float, str]:  # fmt: skip
    """(time to first token s, decode tokens/s, answer) for one question."""
    start = time.perf_counter()
    first = last = 0.0
    parts: list[str] = []
    tokens = 0
    for event in runtime.interpret(png, question, history=history or [], max_tokens=max_tokens):
        if isinstance(event, TextDelta):
            last = time.perf_counter()
            first = first or last
            parts.append(event.text)
        elif isinstance(event, Finished):
            tokens = int(event.times["decode_tokens"])
    rate = (tokens - 1) / (last - first) if last > first else float("nan")
    return first - start, rate, "".join(parts)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def app_numbers(args: argparse.Namespace, pngs: list[bytes]) -> dict[str, list[float]]:
    settings = ModelSettings(n_ctx=4096, n_threads=args.threads, max_tokens=args.max_tokens,
                             prefix_cache_mb=0)  # fmt: skip
    runtime = ModelRuntime(app_paths().ensure())
    runtime.load(args.model, args.mmproj, settings)
    progress("app: model loaded")
    numbers: dict[str, list[float]] = {"cold": [], "warm": [], "follow": [], "tps": []}
    for png in pngs[: args.runs]:
        cold, rate, text = ask(runtime, png, PROMPT, args.max_tokens)
        progress(f"app: cold {cold:.1f} s, {rate:.1f} tok/s")
        warm, _, _ = ask(runtime, png, PROMPT, args.max_tokens)  # prepared: only the question
        follow, _, _ = ask(runtime, png, FOLLOW_UP, 8, [(PROMPT, text)])
        for key, value in (("cold", cold), ("warm", warm), ("follow", follow), ("tps", rate)):
            numbers[key].append(value)
    numbers["rss"] = [peak_rss_mb(runtime.worker_pid)]
    runtime.close()
    return numbers


def bare_numbers(
    args: argparse.Namespace, pngs: list[bytes], flash: bool
) -> dict[str, list[float]]:
    from llama_cpp import Llama

    llama: Any = bare_llama(args.model, args.mmproj, args.threads, 4096)
    if not flash:  # llama-cpp-python's default attention
        handler = type(llama.chat_handler)(clip_model_path=str(args.mmproj), verbose=False)
        llama.close()
        llama = Llama(model_path=str(args.model), chat_handler=handler, n_ctx=4096,
                      n_threads=args.threads, n_threads_batch=args.threads, seed=42,
                      verbose=False)  # fmt: skip
    progress(f"bare (flash attention {flash}): model loaded")
    runs = [bare_run(llama, png, args.max_tokens) for png in pngs[: args.runs]]
    progress(f"bare (flash attention {flash}): {runs}")
    llama.close()
    return {"cold": [r["ttft"] for r in runs], "tps": [r["tps"] for r in runs]}


def show(values: list[float], unit: str = "s") -> str:
    return f"{statistics.median(values):.2f} {unit} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=models.cache_dir() / TEXT_NAME)
    parser.add_argument("--mmproj", type=Path, default=models.cache_dir() / MMPROJ_NAME)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--app-only", action="store_true", help="skip the two bare paths")
    args = parser.parse_args()
    os.environ["ECGVIEWER_HOME"] = tempfile.mkdtemp()
    pngs = images(args.runs)
    app = app_numbers(args, pngs)
    unmeasured = {"cold": [float("nan")], "tps": [float("nan")]}
    flash = unmeasured if args.app_only else bare_numbers(args, pngs, flash=True)
    default = unmeasured if args.app_only else bare_numbers(args, pngs, flash=False)
    print(f"machine: {machine()}")
    print(f"random weights, MedGemma-4B shapes; "
          f"{args.runs} runs, {args.max_tokens} new tokens, {args.threads} threads")  # fmt: skip
    print("| measure | app | bare, flash attention | bare, defaults |")
    print("|---|---|---|---|")
    print(f"| cold time to first token | {show(app['cold'])} | {show(flash['cold'])} | "
          f"{show(default['cold'])} |")  # fmt: skip
    print(f"| warm time to first token (image prepared) | {show(app['warm'])} | - | - |")
    print(f"| follow-up time to first token | {show(app['follow'])} | - | - |")
    print(f"| decode | {show(app['tps'], 'tok/s')} | {show(flash['tps'], 'tok/s')} | "
          f"{show(default['tps'], 'tok/s')} |")  # fmt: skip
    size_mb = (args.model.stat().st_size + args.mmproj.stat().st_size) / 1024**2
    print(f"| worker peak RSS | {app['rss'][0]:.0f} MB ({app['rss'][0] / size_mb:.2f}x the "
          f"{size_mb:.0f} MB of model files) | - | - |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
