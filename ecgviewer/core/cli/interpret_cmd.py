"""`ecgviewer interpret IMAGE`: the window's Interpret button, on the command line.

Streams the answer to stdout as it arrives (or prints one JSON object with
--json). `--follow-up` asks more questions in the same conversation, as the
window's follow-up box does. Exit codes: 0 ok, 2 bad input, 3 model problem, 130 interrupted.
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
from ecgviewer.core.cli.model_options import (
    add_image_and_model_options,
    model_settings,
    open_backend,
    open_image,
    print_model_notes,
)
from ecgviewer.core.conversation import Conversation
from ecgviewer.core.errors import InputError
from ecgviewer.core.inference.answering import ask
from ecgviewer.core.inference.backend import ReadingBackend
from ecgviewer.core.inference.prompts import DEFAULT_PRESET, PRESETS, preset
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import load_settings
from ecgviewer.core.workspace import OpenCase


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "interpret",
        help="ask the model (local, or a server with --server) about one ECG image",
        description=f"Ask the model about one ECG image. {DISCLAIMER}.",
    )
    add_image_and_model_options(parser)
    ask = parser.add_mutually_exclusive_group()
    ask.add_argument("--prompt", help="free-text question")
    ask.add_argument("--preset", choices=[p.key for p in PRESETS], help="model-card question")
    parser.add_argument("--follow-up", action="append", default=[], metavar="QUESTION",
                        help="ask this next, in the same conversation (repeatable)")  # fmt: skip
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


def _questions(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(question, preset key) for the first question and each follow-up, checked."""
    first = args.prompt or preset(args.preset or DEFAULT_PRESET.key).text
    preset_key = "" if args.prompt else (args.preset or DEFAULT_PRESET.key)
    asked = [(first, preset_key)] + [(question, "") for question in args.follow_up]
    if any(not question.strip() for question, _ in asked):
        raise InputError("The question is empty.")
    return asked


def run(args: argparse.Namespace) -> int:
    paths = app_paths().ensure()
    model_settings(args, load_settings(paths).model)  # bad options fail fast
    questions = _questions(args)
    study = _study(args)  # bad input fails fast, before the model loads
    prepared = open_image(args)
    prepared.case.study = study
    conversation = Conversation(prepared.case.thread)
    runtime = open_backend(args, paths)
    try:
        assert runtime.loaded is not None
        print_model_notes(runtime.loaded, disclaimer=not args.json)
        _ask_all(runtime, conversation, prepared.model_png(), questions, args)
    finally:
        runtime.close()
    if args.pdf:
        _write_pdf(args, prepared)
    if args.json:
        print(json.dumps(_result_json(conversation.thread, prepared), indent=2))
    return 130 if conversation.thread[-1].stop_reason == "cancelled" else 0


def _ask_all(runtime: ReadingBackend, conversation: Conversation, png: bytes,
             questions: list[tuple[str, str]], args: argparse.Namespace) -> None:  # fmt: skip
    """Ask each question in turn; a stopped answer (Ctrl+C) ends the run."""
    for index, (question, preset_key) in enumerate(questions):
        if index and not args.json:
            print(f"\n> {question}", file=sys.stderr)
        turn = stream_answer(runtime, conversation, png, question, preset_key,
                             show=not args.json)  # fmt: skip
        if turn.stop_reason == "cancelled":
            return


def stream_answer(runtime: ReadingBackend, conversation: Conversation, png: bytes, question: str,
                  preset_key: str = "", *, show: bool = True) -> Turn:  # fmt: skip
    """Ask one question in `conversation`, printing the answer as it streams; Ctrl+C stops it."""
    previous = signal.signal(signal.SIGINT, lambda *_: runtime.cancel())

    def on_text(text: str) -> None:
        if show:
            print(text, end="", flush=True)

    def note(text: str) -> None:
        print(f"\nnote: {text} Asking again.", file=sys.stderr)

    try:
        turn, _finished = ask(runtime, conversation, png, question, preset_key,
                              on_text=on_text, on_note=note)  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    if show:
        print()
    return turn


def _turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "question": turn.question, "text": turn.answer, "stop_reason": turn.stop_reason,
        "asked_at": turn.started_at, "finished_at": turn.finished_at,
        "timings": turn.timings.to_json(),
    }  # fmt: skip


def _result_json(thread: list[Turn], prepared: OpenCase) -> dict[str, Any]:
    """The first turn's fields at the top (as before follow-ups existed), and every turn."""
    turn = thread[0]
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
        "server": provenance.server_url or None if provenance else None,
        "served_model": provenance.served_model or None if provenance else None,
        "decoding": vars(turn.decoding) if turn.decoding else None,
        "timings": turn.timings.to_json(),
        "preprocess": prepared.steps,
        "study": prepared.case.study,
        "turns": [_turn_json(each) for each in thread],
    }


def _write_pdf(args: argparse.Namespace, prepared: OpenCase) -> None:
    """The report of the whole conversation (the thread is the case's own)."""
    from ecgviewer.core.report import write_report

    out = write_report(prepared.case, prepared.result, prepared.original, args.pdf,
                       identifiers=not args.no_identifiers)  # fmt: skip
    print(f"report written to {out}", file=sys.stderr)
