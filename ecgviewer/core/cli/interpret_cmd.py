"""`ecgviewer interpret IMAGE`: the window's Interpret button, on the command line.

Streams the answer to stdout as it arrives (or prints one JSON object with
--json). Exit codes: 0 ok, 2 bad input, 3 model problem, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from ecgviewer import DISCLAIMER
from ecgviewer.core.case import Turn
from ecgviewer.core.errors import InputError, ModelError
from ecgviewer.core.inference.answering import answer_with_one_retry
from ecgviewer.core.inference.discovery import configured_or_found
from ecgviewer.core.inference.prompts import DEFAULT_PRESET, PRESETS, preset
from ecgviewer.core.inference.runtime import ModelRuntime
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import ModelSettings, load_settings
from ecgviewer.core.workspace import OpenCase, open_case


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "interpret",
        help="ask the local model about one ECG image",
        description=f"Ask the local model about one ECG image. {DISCLAIMER}.",
    )
    parser.add_argument("image", type=Path, help="ECG image or PDF")
    parser.add_argument("--page", type=int, default=None, help="page of a PDF/TIFF (1-based)")
    parser.add_argument("--model", type=Path, help="text model GGUF")
    parser.add_argument("--mmproj", type=Path, help="vision projector GGUF")
    ask = parser.add_mutually_exclusive_group()
    ask.add_argument("--prompt", help="free-text question")
    ask.add_argument("--preset", choices=[p.key for p in PRESETS], help="model-card question")
    parser.add_argument("--max-tokens", type=int, help="new tokens at most (default 512)")
    parser.add_argument("--seed", type=int, help="sampling seed (default 42)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: physical cores)")
    parser.add_argument("--gpu-layers", type=int, help="layers to offload to a GPU (default 0)")
    parser.add_argument("--ctx", type=int, help="context length (default 4096)")
    parser.add_argument("--no-preprocess", action="store_true", help="send the image as decoded")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--pdf", type=Path, help="also write the PDF report of this run")
    parser.add_argument("--no-identifiers", action="store_true",
                        help="write the PDF without the study fields and the file name (text "
                        "printed on the scan itself stays)")  # fmt: skip
    _study_options(parser)
    parser.set_defaults(handler=run)


# option -> study key (case.STUDY_FIELDS); printed by --json as "study", read by --study
STUDY_OPTIONS = (
    ("--patient-id", "patient_id", "the patient's identifier"),
    ("--patient-name", "name", "the patient's name"),
    ("--birth-date", "date_of_birth", "date of birth, YYYY-MM-DD"),
    ("--age", "age", "age in years (when the date of birth is not known)"),
    ("--sex", "sex", "F, M or X"),
    ("--recorded-at", "acquisition_date", "when the ECG was recorded, ISO date and time"),
    ("--requested-by", "referring_clinician", "the requesting clinician"),
    ("--indication", "indication", "why the ECG was recorded"),
    ("--comment", "comment", "a free comment"),
)


def _study_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "study fields (printed on the report; they never leave the machine)"
    )
    group.add_argument("--study", type=Path, metavar="FILE.json",
                       help="the fields as JSON (the keys --json prints as 'study')")  # fmt: skip
    for option, key, text in STUDY_OPTIONS:
        group.add_argument(option, dest=f"study_{key}", metavar="VALUE", help=text)


def _study(args: argparse.Namespace) -> dict[str, str]:
    """The file's fields, then the options over them, checked."""
    from ecgviewer.core.study import checked_study, read_study_file

    study = read_study_file(args.study) if args.study else {}
    for _option, key, _text in STUDY_OPTIONS:
        value = getattr(args, f"study_{key}", None)
        if value is not None:
            study[key] = value
    return checked_study(study)


def _model_settings(args: argparse.Namespace, base: ModelSettings) -> ModelSettings:
    overrides = {
        "max_tokens": args.max_tokens, "seed": args.seed, "n_threads": args.threads,
        "n_gpu_layers": args.gpu_layers, "n_ctx": args.ctx,
    }  # fmt: skip
    for key, value in overrides.items():
        if value is not None:
            setattr(base, key, value)
    if base.max_tokens < 1:
        raise InputError("--max-tokens must be at least 1.")
    return base


def _pair(args: argparse.Namespace, settings: ModelSettings) -> tuple[Path, Path]:
    if args.model or args.mmproj:
        if not (args.model and args.mmproj):
            raise ModelError("Give both --model and --mmproj (the text GGUF and its projector).")
        return args.model, args.mmproj
    found = configured_or_found(settings, app_paths())
    if found is None:
        raise ModelError(
            "No model is configured and none was found in the models folders.",
            hint="Pass --model TEXT.gguf --mmproj MMPROJ.gguf, or see models/README.md.",
        )
    return found


def run(args: argparse.Namespace) -> int:
    paths = app_paths().ensure()
    stored = load_settings(paths)
    settings = _model_settings(args, stored.model)
    question = args.prompt or preset(args.preset or DEFAULT_PRESET.key).text
    if not question.strip():
        raise InputError("The question is empty.")
    study = _study(args)  # bad input fails fast, before the model loads
    prepared = _prepare_image(args)
    prepared.case.study = study
    text_path, mmproj_path = _pair(args, settings)
    runtime = ModelRuntime(paths)
    try:
        loaded = runtime.load(text_path, mmproj_path, settings)
        for note in loaded.notes:
            print(f"note: {note}", file=sys.stderr)
        if not loaded.provenance.is_ecg_model:
            print(f"note: {loaded.display_name} is not an ECG model; its text is not an ECG "
                  "interpretation.", file=sys.stderr)  # fmt: skip
        elif not args.json:
            print(f"[{DISCLAIMER}]", file=sys.stderr)
        turn = _stream(runtime, prepared.model_png(), question, args)
    finally:
        runtime.close()
    if args.pdf:
        _write_pdf(args, prepared, turn)
    if args.json:
        print(json.dumps(_result_json(turn, prepared), indent=2))
    return 130 if turn.stop_reason == "cancelled" else 0


def _stream(runtime: ModelRuntime, png: bytes, question: str, args: argparse.Namespace) -> Turn:
    previous = signal.signal(signal.SIGINT, lambda *_: runtime.cancel())

    def show(text: str) -> None:
        if not args.json:
            print(text, end="", flush=True)

    def note(text: str) -> None:
        print(f"\nnote: {text} Asking again.", file=sys.stderr)

    try:
        text, finished = answer_with_one_retry(runtime, png, question, on_text=show, on_note=note)
    finally:
        signal.signal(signal.SIGINT, previous)
    if not args.json:
        print()
    preset_key = "" if args.prompt else (args.preset or DEFAULT_PRESET.key)
    return runtime.make_turn(question, text, finished, preset_key)


def _result_json(turn: Turn, prepared: OpenCase) -> dict[str, Any]:
    provenance = turn.provenance
    return {
        "text": turn.answer,
        "stop_reason": turn.stop_reason,
        "prompt": turn.question,
        "prompt_version": turn.prompt_version,
        "model": vars(provenance.model) if provenance else None,
        "mmproj": vars(provenance.mmproj) if provenance else None,
        "ecg_model": provenance.is_ecg_model if provenance else False,
        "known_pair": provenance.known_pair if provenance else "",
        "fallback_chat_template": provenance.fallback_template if provenance else False,
        "decoding": vars(turn.decoding) if turn.decoding else None,
        "timings": turn.timings.to_json(),
        "preprocess": prepared.steps,
        "study": prepared.case.study,
    }


def _prepare_image(args: argparse.Namespace) -> OpenCase:
    page = None if args.page is None else args.page - 1
    return open_case(args.image, page=page, preprocess=not args.no_preprocess)


def _write_pdf(args: argparse.Namespace, prepared: OpenCase, turn: Turn) -> None:
    from ecgviewer.core.report import write_report

    prepared.case.thread = [turn]
    out = write_report(prepared.case, prepared.result, prepared.original, args.pdf,
                       identifiers=not args.no_identifiers)  # fmt: skip
    print(f"report written to {out}", file=sys.stderr)
