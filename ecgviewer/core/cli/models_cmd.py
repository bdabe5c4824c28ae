"""`ecgviewer models check TEXT.gguf MMPROJ.gguf`: preflight a pair and print its facts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecgviewer.core.inference.memory import available_memory, gib
from ecgviewer.core.inference.pair_check import check_model_pair
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import load_settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models", help="check a text GGUF + mmproj GGUF pair")
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="preflight a pair and print the model card facts")
    check.add_argument("text", type=Path, help="text model GGUF (Gemma 3 / MedGemma-ECG)")
    check.add_argument("mmproj", type=Path, help="vision projector GGUF (mmproj)")
    check.add_argument("--ctx", type=int, default=None, help="context length for the estimate")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(handler=run_check)
    from ecgviewer.core.cli.import_cmd import register_import

    register_import(actions)


def run_check(args: argparse.Namespace) -> int:
    """Exit 0 when the pair is usable; a problem raises ModelError (exit 3)."""
    paths = app_paths().ensure()
    settings = load_settings(paths).model
    if args.ctx:
        settings.n_ctx = args.ctx

    def progress(stage: str, fraction: float) -> None:
        if stage == "hashing" and sys.stderr.isatty():
            print(f"\rhashing {fraction:4.0%}", end="", file=sys.stderr, flush=True)

    facts, provenance, expected = check_model_pair(
        args.text, args.mmproj, settings, paths, progress=progress
    )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    report = {
        "ok": True,
        "name": facts.text.name,
        "known_pair": provenance.known_pair or None,
        "ecg_model": provenance.is_ecg_model,
        "fallback_chat_template": provenance.fallback_template,
        "text": _identity(provenance.model, facts.text.context_length),
        "mmproj": _identity(provenance.mmproj, None),
        "embedding_length": facts.text.embedding_length,
        "image_tokens": facts.mmproj.image_tokens,
        "image_size": facts.mmproj.image_size,
        "memory_estimate_bytes": expected.total,
        "memory_available_bytes": available_memory(),
        "n_ctx": settings.n_ctx,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(report)
    return 0


def _identity(identity: object, context_length: int | None) -> dict[str, object]:
    data = dict(vars(identity))
    if context_length is not None:
        data["context_length"] = context_length
    return data


def _print_report(report: dict[str, object]) -> None:
    text, mmproj = report["text"], report["mmproj"]
    assert isinstance(text, dict) and isinstance(mmproj, dict)
    available = report["memory_available_bytes"]
    lines = [
        f"OK: the pair can be loaded: {report['name']}",
        f"  known pair:      {report['known_pair'] or 'no (not listed in models/manifest.json)'}",
        "  ECG model:       "
        + ("yes" if report["ecg_model"] else "NO - its output is not an ECG reading"),
        f"  text model:      {Path(str(text['path'])).name}  {text['quantization']}  "
        f"{gib(int(text['size_bytes']))}  context {text['context_length']}",
        f"                   sha256 {text['sha256']}",
        f"  vision proj.:    {Path(str(mmproj['path'])).name}  {mmproj['quantization']}  "
        f"{gib(int(mmproj['size_bytes']))}",
        f"                   sha256 {mmproj['sha256']}",
        f"  image:           {report['image_size']} px -> {report['image_tokens']} tokens",
        "  chat template:   "
        + ("built-in Gemma 3 fallback" if report["fallback_chat_template"] else "from the GGUF"),
        f"  memory:          about {gib(int(str(report['memory_estimate_bytes'])))} needed at "
        f"context {report['n_ctx']}"
        + (f", {gib(int(str(available)))} free" if isinstance(available, int) else ""),
    ]
    print("\n".join(lines))
