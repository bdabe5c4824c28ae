"""`ecgviewer chat IMAGE`: a conversation about one ECG in the terminal.

The disclaimer comes first. Each line read from stdin is a question, asked in
one conversation (the model sees the earlier questions and answers, as in the
window); the answer streams as it arrives. Ctrl+C stops the current answer; an
empty line or Ctrl+D (end of input) ends the conversation. Exit codes as for
`interpret`: 0 ok, 2 bad input, 3 model problem.
"""

from __future__ import annotations

import argparse
import sys

from ecgviewer import DISCLAIMER
from ecgviewer.core.cli.interpret_cmd import stream_answer
from ecgviewer.core.cli.model_options import (
    add_image_and_model_options,
    model_settings,
    open_backend,
    open_image,
    print_model_notes,
)
from ecgviewer.core.conversation import Conversation
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import load_settings

PROMPT = "> "


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "chat",
        help="talk with the model (local, or a server with --server) about one ECG image",
        description=f"An interactive conversation about one ECG image. {DISCLAIMER}. "
        "Ctrl+C stops an answer; an empty line or Ctrl+D ends.",
    )
    add_image_and_model_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(f"[{DISCLAIMER}]", flush=True)
    paths = app_paths().ensure()
    model_settings(args, load_settings(paths).model)  # bad options fail fast
    prepared = open_image(args)
    conversation = Conversation(prepared.case.thread)
    runtime = open_backend(args, paths)
    try:
        assert runtime.loaded is not None
        print_model_notes(runtime.loaded, disclaimer=False)
        png = prepared.model_png()
        while (question := _read_question()) is not None:
            stream_answer(runtime, conversation, png, question)
    finally:
        runtime.close()
    return 0


def _read_question() -> str | None:
    """The next question; None at an empty line or the end of input (Ctrl+D)."""
    if sys.stdin.isatty():
        print(PROMPT, end="", flush=True)
    try:
        line = sys.stdin.readline()
    except KeyboardInterrupt:  # Ctrl+C at the prompt: end, like Ctrl+D
        return None
    question = line.strip()
    return question or None
