"""Reading through an inference server vs the local worker, same machine, same model.

    python benchmarks/bench_server.py [--runs 3] [--max-tokens 48] [--images 6]
                                      [--threads 2] [--server URL --key KEY]

Both paths use the quiet templated test pair (Gemma 3 270M with a chat
template + the quiet tiny projector, tests/support/models.py) in the same run,
because this machine's speed varies 2-5x from hour to hour: compare only
numbers printed together.

* local: `ModelRuntime` (worker process, events), as the window reads.
* server: `RemoteRuntime` (the app's server backend) against llama-cpp-python's
  `llama_cpp.server`, started by tests/support/llama_server.py (AMX-safe
  launcher, `--interrupt_requests false`, flash attention, batch 256, the
  same thread count, and the worker's priority: nice 5). With --server URL it
  measures that server instead (llama-server or vLLM on a GPU machine; see
  docs/performance.md).

Measured, alternating local and server run by run so both see the same load:
time to first token for a new image (cold) and for a follow-up in the same
conversation (warm), decode tokens/s (between the first and the last text the
reader saw), and evaluation throughput in ECGs per minute over --images
images, each a first question, at concurrency 1 (local and server) and 1, 2
(server; more with --concurrency). With several requests at a time it also
says whether the server overlapped their generations or served them one
after another. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_inference import PROMPT, images, machine  # noqa: E402
from ecgviewer.core.inference.backend import ReadingBackend  # noqa: E402
from ecgviewer.core.inference.client import Failed, Finished, TextDelta  # noqa: E402
from ecgviewer.core.inference.remote import RemoteRuntime  # noqa: E402
from ecgviewer.core.inference.runtime import ModelRuntime  # noqa: E402
from ecgviewer.core.inference.server_config import ServerConfig  # noqa: E402
from ecgviewer.core.paths import app_paths  # noqa: E402
from ecgviewer.core.settings import ModelSettings  # noqa: E402

FOLLOW_UP = "What is the heart rate?"


@dataclass
class Answer:
    """One answer as its reader saw it (perf_counter seconds)."""

    start: float
    first: float
    end: float
    tokens: int
    text: str

    @property
    def ttft(self) -> float:
        return self.first - self.start

    @property
    def tps(self) -> float:
        span = self.end - self.first
        return (self.tokens - 1) / span if self.tokens > 1 and span > 0 else float("nan")


def ask(backend: ReadingBackend, png: bytes, question: str, max_tokens: int,
        history: Sequence[tuple[str, str]] = ()) -> Answer:  # fmt: skip
    """Ask one question and time it; raises the backend's error if the answer failed."""
    start = time.perf_counter()
    first = last = 0.0
    parts: list[str] = []
    tokens = 0
    for event in backend.interpret(png, question, history=history, max_tokens=max_tokens):
        if isinstance(event, TextDelta):
            last = time.perf_counter()
            first = first or last
            parts.append(event.text)
        elif isinstance(event, Finished):
            tokens = int(event.times.get("decode_tokens") or len(parts))
        elif isinstance(event, Failed):
            raise event.error
    return Answer(start, first or last, last, tokens, "".join(parts))


def ask_first(backend: ReadingBackend, max_tokens: int, png: bytes) -> Answer:
    """An evaluation item: the first question of a conversation of its own."""
    return ask(backend, png, PROMPT, max_tokens)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def latency(backends: dict[str, ReadingBackend], pngs: list[bytes], max_tokens: int,
            ) -> dict[str, dict[str, list[float]]]:  # fmt: skip
    """Cold and follow-up first token and decode rate, the backends taking turns per image."""
    numbers: dict[str, dict[str, list[float]]] = {
        name: {"cold": [], "follow": [], "tps": []} for name in backends
    }
    for index, png in enumerate(pngs):
        for name, backend in backends.items():
            cold = ask(backend, png, PROMPT, max_tokens)
            follow = ask(backend, png, FOLLOW_UP, max_tokens, [(PROMPT, cold.text)])
            numbers[name]["cold"].append(cold.ttft)
            numbers[name]["follow"].append(follow.ttft)
            numbers[name]["tps"].append(cold.tps)
            progress(f"run {index + 1} {name}: cold {cold.ttft * 1000:.0f} ms, follow-up "
                     f"{follow.ttft * 1000:.0f} ms, {cold.tps:.1f} tok/s ({cold.tokens} tokens), "
                     f"load {load()}")  # fmt: skip
    return numbers


@dataclass
class Throughput:
    """One evaluation pass: ECGs per minute and how the requests overlapped."""

    per_minute: float
    wall: float
    answers: list[Answer]

    def overlapped(self) -> int:
        """How many answers were being generated while another one was (first..end)."""
        spans = sorted((a.first, a.end) for a in self.answers)
        return sum(1 for (f1, e1), (f2, _) in itertools.pairwise(spans) if f2 < e1)


def throughput(ask_one: Callable[[bytes], Answer], pngs: list[bytes], concurrency: int
               ) -> Throughput:  # fmt: skip
    """Every image once, `concurrency` at a time, as `eval run --concurrency N` sends them."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        answers = list(pool.map(ask_one, pngs))
    wall = time.perf_counter() - start
    return Throughput(len(pngs) / wall * 60.0, wall, answers)


def show(values: list[float], unit: str, scale: float = 1.0) -> str:
    scaled = [v * scale for v in values]
    digits = 0 if unit == "ms" else 1
    return (f"{statistics.median(scaled):.{digits}f} {unit} "
            f"({min(scaled):.{digits}f}-{max(scaled):.{digits}f})")  # fmt: skip


def start_server(stack: ExitStack, args: argparse.Namespace) -> ServerConfig:
    if args.server:
        return ServerConfig(args.server, args.key)
    from tests.support.llama_server import running_server

    log_dir = Path(tempfile.mkdtemp(prefix="bench-server-"))
    extra = ("--n_threads", str(args.threads), "--n_threads_batch", str(args.threads))
    server = stack.enter_context(running_server(log_dir, extra=extra))
    # the app's worker runs at nice 5 (docs/performance.md, issue 4): give the server the
    # same priority, so that other jobs on this machine slow both paths alike
    os.setpriority(os.PRIO_PROCESS, server.process.pid, args.server_nice)
    progress(f"llama_cpp.server at {server.url} (log {server.log})")
    return ServerConfig(server.url, server.api_key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="images for the latency rows")
    parser.add_argument("--images", type=int, default=6, help="images per throughput pass")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2, help="throughput passes each")
    parser.add_argument("--server", help="measure this server instead of starting one")
    parser.add_argument("--key", default=os.environ.get("ECGVIEWER_SERVER_KEY", ""))
    parser.add_argument("--server-nice", type=int, default=5, help="the started server's")
    parser.add_argument("--no-local", action="store_true", help="server only (a GPU machine)")
    args = parser.parse_args()
    os.environ["ECGVIEWER_HOME"] = tempfile.mkdtemp()
    pngs = images(args.runs + args.images)  # runs + images + 1, all different: none reused
    settings = ModelSettings(n_ctx=1024, n_threads=args.threads, max_tokens=args.max_tokens)
    print(f"machine: {machine()}; load average (1/5 min) at start {load()}")
    with ExitStack() as stack:
        backends: dict[str, ReadingBackend] = {}
        if not args.no_local:
            local = ModelRuntime(app_paths().ensure())
            stack.callback(local.close)
            local.load(*models_here(), settings)
            backends["local worker"] = local
        remote = RemoteRuntime(start_server(stack, args), app_paths().ensure(), settings)
        stack.callback(remote.close)
        served = remote.connect().display_name
        backends["server"] = remote
        for backend in backends.values():  # one short answer each: first-use costs out
            ask(backend, pngs[-1], PROMPT, 4)
        numbers = latency(backends, pngs[: args.runs], args.max_tokens)
        passes = measure_throughput(backends, pngs[args.runs : -1], args)
    report(args, served, numbers, passes)
    return 0


Passes = dict[tuple[int, str, int], Throughput]
"""Evaluation passes by (round, path, requests at a time)."""


def measure_throughput(backends: dict[str, ReadingBackend], pngs: list[bytes],
                       args: argparse.Namespace) -> Passes:  # fmt: skip
    """`--rounds` rounds, each running every pass once, so all passes share the load."""
    passes: Passes = {}
    for round_ in range(1, args.rounds + 1):
        for name, backend in backends.items():
            levels = args.concurrency if name == "server" else [1]  # one local worker
            for concurrency in levels:
                result = throughput(functools.partial(ask_first, backend, args.max_tokens),
                                    pngs, concurrency)  # fmt: skip
                passes[(round_, name, concurrency)] = result
                progress(f"round {round_} {name} x{concurrency}: {result.per_minute:.1f} "
                         f"ECGs/min ({result.wall:.1f} s), load {load()}")  # fmt: skip
    return passes


def models_here() -> tuple[Path, Path]:
    """The quiet templated test pair (tests/support/models.py), for the local worker."""
    from tests.support import models

    return models.templated_text_model_path(), models.quiet_projector_path()


def report(args: argparse.Namespace, served: str,
           numbers: dict[str, dict[str, list[float]]],
           passes: Passes) -> None:  # fmt: skip
    print(f"served model: {served}; {args.runs} images for latency, "
          f"{args.images} per throughput pass, {args.max_tokens} new tokens at most, "
          f"{args.threads} threads; load average at the end {load()}")  # fmt: skip
    names = list(numbers)
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    rows = (("time to first token, new image", "cold", "ms", 1000.0),
            ("time to first token, follow-up", "follow", "ms", 1000.0),
            ("decode", "tps", "tok/s", 1.0))  # fmt: skip
    for label, key, unit, scale in rows:
        cells = " | ".join(show(numbers[n][key], unit, scale) for n in names)
        print(f"| {label} | {cells} |")
    print()
    print("| round | path | requests at a time | ECGs per minute | wall | first token "
          "(median) | decode (median) | overlapped generations |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for (round_, name, concurrency), result in passes.items():
        answers = result.answers
        overlap = f"{result.overlapped()} of {len(answers) - 1}" if concurrency > 1 else "-"
        ttft = statistics.median(a.ttft for a in answers) * 1000.0
        tps = statistics.median(a.tps for a in answers)
        print(f"| {round_} | {name} | {concurrency} | {result.per_minute:.1f} | "
              f"{result.wall:.1f} s | {ttft:.0f} ms | {tps:.1f} tok/s | {overlap} |")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
