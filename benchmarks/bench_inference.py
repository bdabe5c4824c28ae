"""App path vs bare llama-cpp-python: time to first token and decode speed.

    python benchmarks/bench_inference.py [--model TEXT.gguf --mmproj MMPROJ.gguf]
                                         [--runs 3] [--max-tokens 128] [--threads N]

(a) the app's full path: ModelRuntime -> worker process -> streamed events;
(b) a bare llama-cpp-python loop in this process: Llama + MTMDChatHandler,
    create_chat_completion(stream=True).
Both get the same 896x896 image, prompt, greedy decoding, threads and flash
attention; every run encodes the image (a one-pixel change defeats the app's
prefix cache) so both measure the cold path. Without --model/--mmproj the small
test pair (Gemma 3 270M + tiny projector) is used. Prints medians (min-max).
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ecgviewer.core.imaging.model_input import model_input_image  # noqa: E402
from ecgviewer.core.imaging.synthetic import render  # noqa: E402
from ecgviewer.core.inference.chat import GEMMA3_FALLBACK_TEMPLATE  # noqa: E402
from ecgviewer.core.inference.client import Finished, TextDelta  # noqa: E402
from ecgviewer.core.inference.runtime import ModelRuntime  # noqa: E402
from ecgviewer.core.paths import app_paths  # noqa: E402
from ecgviewer.core.settings import ModelSettings  # noqa: E402
from ecgviewer.core.workspace import png_bytes  # noqa: E402

PROMPT = "Analyze this ECG and provide a detailed interpretation."


def machine() -> str:
    """CPU model, cores, memory, OS and llama-cpp-python version, for the results table."""
    import llama_cpp

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            names = [
                line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")
            ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    memory = ""
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = (
            f", {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 1024**3:.0f} GB RAM"
        )
    return (f"{cpu}, {os.cpu_count()} logical CPUs{memory}, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, "
            f"llama-cpp-python {llama_cpp.__version__}")  # fmt: skip


def images(runs: int) -> list[bytes]:
    """The same ECG, one pixel different per run, so no run reuses a prepared image."""
    base = model_input_image(render().image)
    result = []
    for index in range(runs + 1):
        copy = base.copy()
        copy.putpixel((index, 0), (index % 256, 0, 0))
        result.append(png_bytes(copy))
    return result


def app_run(runtime: ModelRuntime, png: bytes, max_tokens: int) -> dict[str, float]:
    start = time.perf_counter()
    first = last = 0.0
    count = 0
    breakdown: dict[str, float] = {}
    for event in runtime.interpret(png, PROMPT, max_tokens=max_tokens):
        if isinstance(event, TextDelta):
            last = time.perf_counter()
            first = first or last
            count += 1
        elif isinstance(event, Finished):
            breakdown = {k: v for k, v in event.times.items() if isinstance(v, float)}
            count = int(event.times["decode_tokens"])  # several tokens may share one event
    # tokens the user saw per second, between the first and the last text to arrive
    return {"ttft": first - start, "tps": (count - 1) / (last - first), **breakdown}


def bare_run(llama: object, png: bytes, max_tokens: int) -> dict[str, float]:
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": PROMPT}]
    messages = [{"role": "user", "content": content}]
    start = time.perf_counter()
    first = last = 0.0
    count = 0
    stream = llama.create_chat_completion(  # type: ignore[attr-defined]
        messages=messages, stream=True, temperature=0.0, max_tokens=max_tokens,
        repeat_penalty=1.0, seed=42,
    )  # fmt: skip
    for chunk in stream:
        if chunk["choices"][0]["delta"].get("content"):
            last = time.perf_counter()
            first = first or last
            count += 1
    return {"ttft": first - start, "tps": (count - 1) / (last - first)}


def bare_llama(model: Path, mmproj: Path, threads: int, n_ctx: int) -> object:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import MTMDChatHandler

    class Handler(MTMDChatHandler):  # type: ignore[misc]
        def _get_chat_template(self, llama_model: object) -> str:
            template = llama_model.metadata.get("tokenizer.chat_template")  # type: ignore[attr-defined]
            return template or GEMMA3_FALLBACK_TEMPLATE

    return Llama(model_path=str(model), chat_handler=Handler(clip_model_path=str(mmproj),
                 verbose=False), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                 flash_attn=True, seed=42, verbose=False)  # fmt: skip


def summary(values: list[float], unit: str, scale: float = 1.0) -> str:
    scaled = [v * scale for v in values]
    return f"{statistics.median(scaled):8.2f} {unit} ({min(scaled):.2f}-{max(scaled):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--mmproj", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--repack", action="store_true",
                        help="app with weight repacking, as the bare path has it")  # fmt: skip
    args = parser.parse_args()
    if not args.model:
        from tests.support import models

        args.model, args.mmproj = models.text_model_path(), models.projector_path()
    os.environ["ECGVIEWER_HOME"] = tempfile.mkdtemp()
    pngs = images(args.runs)
    settings = ModelSettings(n_ctx=args.ctx, n_threads=args.threads, max_tokens=args.max_tokens,
                             prefix_cache_mb=0, repack_weights=args.repack)  # fmt: skip
    runtime = ModelRuntime(app_paths().ensure())
    runtime.load(args.model, args.mmproj, settings)
    list(runtime.interpret(pngs[-1], PROMPT, max_tokens=4))  # same warm start as the bare path
    app = [app_run(runtime, png, args.max_tokens) for png in pngs[: args.runs]]
    runtime.close()
    llama = bare_llama(args.model, args.mmproj, args.threads, args.ctx)
    bare_run(llama, pngs[-1], 4)  # warmed up the same way as the app path above
    bare = [bare_run(llama, png, args.max_tokens) for png in pngs[: args.runs]]
    llama.close()  # type: ignore[attr-defined]
    report(args, app, bare)
    return 0


def report(
    args: argparse.Namespace, app: list[dict[str, float]], bare: list[dict[str, float]]
) -> None:
    print(f"machine: {machine()}")
    print(f"model: {args.model.name} + {args.mmproj.name}; {args.runs} runs, "
          f"{args.max_tokens} new tokens, {args.threads} threads, flash attention on; "
          f"app weight repacking {'on' if args.repack else 'off (its default)'}, "
          "bare: llama-cpp-python's defaults (repacking on)")  # fmt: skip
    print("| path | time to first token | decode tokens/s |")
    print("|---|---|---|")
    for name, runs in (("app (worker process, events)", app), ("bare llama-cpp-python", bare)):
        ttft = summary([r["ttft"] for r in runs], "ms", 1000)
        tps = summary([r["tps"] for r in runs], "tok/s")
        print(f"| {name} | {ttft} | {tps} |")
    ratio = statistics.median(r["tps"] for r in app) / statistics.median(r["tps"] for r in bare)
    ttft_app = statistics.median(r["ttft"] for r in app)
    ttft_bare = statistics.median(r["ttft"] for r in bare)
    print(f"decode ratio app/bare: {ratio:.3f} (target >= 0.95)")
    print(f"TTFT app - bare: {(ttft_app - ttft_bare) * 1000:+.0f} ms "
          f"(target <= 5% + 50 ms = {(ttft_bare * 0.05 + 0.05) * 1000:.0f} ms)")  # fmt: skip
    keys = ("image_encode_ms", "prompt_prefill_ms", "first_token_ms", "decode_ms", "total_ms")
    print("app breakdown (median ms): " + ", ".join(
        f"{k[:-3]} {statistics.median(r.get(k, 0.0) for r in app):.0f}" for k in keys))  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
