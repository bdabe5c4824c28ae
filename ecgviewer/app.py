"""The one place that wires the Qt-free core and the Qt GUI together.

`main()` is the console entry point. Subcommands run in the core without
importing Qt; the window is imported only when it is actually opened.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence

from ecgviewer.core.cli.main import main as cli_main


def launch_gui(files: list[str]) -> int:
    """Open the main window with `files` (images or PDFs) as cases."""
    try:
        from ecgviewer.gui.application import run_application
    except ImportError as exc:  # PySide6 missing or its system libraries absent
        print(
            "ecgviewer: cannot start the window: the Qt libraries could not be loaded "
            f"({exc}). Reinstall with `python -m pip install .`; the command-line tools "
            "(`ecgviewer --help`) still work.",
            file=sys.stderr,
        )
        return 1
    return run_application(files)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point for `ecgviewer` and `python -m ecgviewer`."""
    multiprocessing.freeze_support()  # the inference worker must start in a frozen app
    return cli_main(argv, launch_gui=launch_gui)
