"""Logging to a rotating file in the per-user log folder.

Log lines carry events, sizes, timings and error types; never patient data,
file contents, questions or answers. Code logs file *names* only where needed
to act on an error, never study fields or model text.
"""

from __future__ import annotations

import logging
import logging.handlers

from ecgviewer.core.paths import AppPaths


def configure_logging(paths: AppPaths, *, verbose: bool = False) -> logging.Handler:
    """Attach a rotating file handler (1 MB x 3) to the `ecgviewer` logger."""
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        paths.log_file, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")
    )
    logger = logging.getLogger("ecgviewer")
    for old in list(logger.handlers):
        if isinstance(old, logging.handlers.RotatingFileHandler):
            logger.removeHandler(old)
            old.close()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    return handler
