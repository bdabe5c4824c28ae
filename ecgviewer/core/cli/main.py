"""Argument parsing and dispatch for the `ecgviewer` command.

With no subcommand (or only file paths) the desktop window opens; the window
is started through a callback so this module never imports Qt.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from ecgviewer import __version__
from ecgviewer.core.errors import EcgViewerError
from ecgviewer.core.logsetup import configure_logging
from ecgviewer.core.paths import app_paths

log = logging.getLogger(__name__)

GuiLauncher = Callable[[list[str]], int]
SUBCOMMANDS = ("preprocess", "interpret", "chat", "models", "eval", "render")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecgviewer",
        description=(
            "ECG Viewer: offline AI-assisted reading of scanned 12-lead ECGs. "
            "Research use only: AI-generated drafts, not validated for clinical use. "
            "Without a command, opens the desktop window (with any FILES given)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"ecgviewer {__version__}")
    parser.add_argument("--verbose", action="store_true", help="more detail in the log file")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for register in _registrars():
        register(commands)
    return parser


def _registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    from ecgviewer.core.cli import (
        chat_cmd,
        eval_cmd,
        interpret_cmd,
        models_cmd,
        preprocess_cmd,
        render_cmd,
    )

    return [
        preprocess_cmd.register,
        interpret_cmd.register,
        chat_cmd.register,
        models_cmd.register,
        eval_cmd.register,
        render_cmd.register,
    ]


def main(argv: Sequence[str] | None = None, *, launch_gui: GuiLauncher | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in SUBCOMMANDS and not args_list[0].startswith("-")):
        return _open_window(args_list, launch_gui)
    parser = build_parser()
    args = parser.parse_args(args_list)
    paths = app_paths().ensure()
    configure_logging(paths, verbose=args.verbose)
    handler = getattr(args, "handler", None)
    if handler is None:
        return _open_window([], launch_gui)
    try:
        return int(handler(args))
    except EcgViewerError as error:
        log.info("command failed: %s", type(error).__name__, exc_info=error.__cause__)
        print(f"ecgviewer: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("ecgviewer: interrupted", file=sys.stderr)
        return 130


def _open_window(files: list[str], launch_gui: GuiLauncher | None) -> int:
    if launch_gui is None:
        print("ecgviewer: the desktop window is not available here", file=sys.stderr)
        return 1
    return launch_gui(files)
