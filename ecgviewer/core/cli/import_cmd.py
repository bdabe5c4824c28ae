"""`ecgviewer models import HF_FOLDER --out DIR`: the window's Model > Import, on the command line.

Without --json it shows one progress bar per stage (tqdm) on stderr; with
--json it prints one object at the end. Exit codes: 0 ok, 2 bad input (not a
usable checkpoint), 3 model problem, 130 cancelled (Ctrl+C).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ecgviewer.core.errors import Cancelled
from ecgviewer.core.modelimport.calibrate import DEFAULT_IMAGES
from ecgviewer.core.modelimport.importer import STAGES, ImportRequest, import_checkpoint
from ecgviewer.core.modelimport.quantize import FTYPES
from ecgviewer.core.paths import app_paths


def register_import(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "import", help="convert a Hugging Face Gemma 3 checkpoint into a checked GGUF pair"
    )
    parser.add_argument(
        "folder", type=Path, help="the checkpoint folder (config.json, *.safetensors)"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the new GGUF pair")
    parser.add_argument("--lora", type=Path, help="a PEFT LoRA adapter folder to merge first")
    parser.add_argument(
        "--quant",
        choices=sorted(FTYPES),
        default="Q4_K_M",
        help="text model quantization (default Q4_K_M); the projector stays F16",
    )
    parser.add_argument(
        "--imatrix",
        default="auto",
        metavar="auto|none|FILE",
        help="importance matrix for Q4_K_M/Q5_K_M: 'auto' calibrates on ECG "
        "images and cardiology text here (default), 'none' skips it, or a "
        "llama.cpp imatrix file (GGUF or .dat) to use; ignored by llama.cpp for "
        "Q8_0 and F16",
    )
    parser.add_argument(
        "--calibration-images",
        type=int,
        default=DEFAULT_IMAGES,
        help=f"ECG images read for 'auto' calibration (default {DEFAULT_IMAGES}; "
        "about a minute each for MedGemma-4B on two cores)",
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument(
        "--no-check", action="store_true", help="skip the conversion check on the sample ECG"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.set_defaults(handler=run_import)  # fmt: skip


def run_import(args: argparse.Namespace) -> int:
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    bars = _Bars(enabled=not args.json)
    request = ImportRequest(args.folder, args.out, args.quant, max(1, args.threads),
                            check=not args.no_check, lora=args.lora, imatrix=args.imatrix,
                            calibration_images=max(1, args.calibration_images),
                            manifest=app_paths().ensure().user_manifest_file)  # fmt: skip
    try:
        result = import_checkpoint(request, bars.update, stop.is_set)
    except Cancelled:
        print("ecgviewer: import cancelled; nothing was written.", file=sys.stderr)
        return 130
    finally:
        bars.close()
        signal.signal(signal.SIGINT, previous)
    data = result.to_json()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        _print_summary(data)
    return 0


class _Bars:
    """One tqdm bar per stage, on stderr, one after the other."""

    def __init__(self, *, enabled: bool) -> None:
        self._enabled = enabled
        self._stage = ""
        self._bar: Any = None

    def update(self, stage: str, fraction: float) -> None:
        if not self._enabled:
            return
        from tqdm import tqdm

        if stage != self._stage:
            self.close()
            self._stage = stage
            label = f"{STAGES.index(stage) + 1}/{len(STAGES)} {stage}"
            self._bar = tqdm(total=1000, desc=label, file=sys.stderr,
                             bar_format="{desc:14} {bar} {percentage:3.0f}% "
                                        "[{elapsed}<{remaining}]")  # fmt: skip
        self._bar.update(max(0, round(fraction * 1000) - self._bar.n))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _print_summary(data: dict[str, Any]) -> None:
    check = data.get("check") or {}
    print(f"text model: {data['text_model']}")
    print(f"projector:  {data['mmproj']}")
    print(f"quantization: {data['quant']}; importance matrix: {data['imatrix']}")
    if data["quant"] in ("Q8_0", "F16") and data["imatrix"] == "none":
        print("  (llama.cpp uses an importance matrix only for K-quants such as Q4_K_M)")
    if check:
        verdict = "ok" if check.get("ok") else f"WARNING ({check.get('outcome')})"
        print(f"conversion check: {verdict} - {check.get('text', '')[:60]!r}")
    ppl = data.get("perplexity") or {}
    if "ratio" in ppl:
        verdict = "ok" if ppl["ok"] else f"WARNING: above {ppl['limit']:.2f}"
        print(
            f"perplexity: F16 {ppl['f16']:.2f}, {data['quant']} {ppl['quantized']:.2f}, "
            f"ratio {ppl['ratio']:.3f} ({verdict})"
        )
