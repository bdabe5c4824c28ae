"""`ecgviewer preprocess`: placeholder until its issue lands."""

from __future__ import annotations

import argparse

from ecgviewer.core.errors import InputError


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("preprocess", help="(not available yet)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise InputError("This command is not available in this version of ECG Viewer.")
