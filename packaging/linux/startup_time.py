"""Measure how long the installed app takes to show its window, under Xvfb.

    python packaging/linux/startup_time.py --runs 5 [--drop-caches] [--launcher /usr/bin/ecgviewer]

Each run starts the launcher with the sample ECG on a fresh profile (the
first-run dialog already acknowledged) and stops the clock when xdotool finds
a visible window titled "ECG Viewer". With --drop-caches (root only) the page
cache is emptied before each run, so every start is a cold start from disk.
Needs Xvfb and xdotool.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "samples" / "sample-ecg.png"
TITLE = "ECG Viewer"


@contextmanager
def xvfb() -> Iterator[str]:
    """Start a private Xvfb server; yield its display name."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write,),
    )
    os.close(write)
    with os.fdopen(read) as handle:
        display = ":" + handle.readline().strip()
    try:
        yield display
    finally:
        server.terminate()
        server.wait(timeout=10)


def drop_caches() -> None:
    """Empty the page cache so the next start reads the bundle from disk."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def one_start(launcher: str, display: str, timeout: float) -> float:
    """Seconds from starting `launcher` until its window is visible."""
    with tempfile.TemporaryDirectory() as home:
        settings = Path(home) / "config" / "settings.json"
        settings.parent.mkdir(parents=True)
        settings.write_text(json.dumps({"disclaimer_acknowledged": True}))
        env = {**os.environ, "DISPLAY": display, "ECGVIEWER_HOME": home, "QT_QPA_PLATFORM": "xcb"}
        search = ["xdotool", "search", "--onlyvisible", "--name", TITLE]
        start = time.monotonic()
        app = subprocess.Popen([launcher, str(SAMPLE)], env=env, cwd=home)
        try:
            while time.monotonic() - start < timeout:
                found = subprocess.run(search, env=env, capture_output=True, check=False)
                if found.returncode == 0:
                    return time.monotonic() - start
                time.sleep(0.05)
            raise SystemExit(f"startup_time: no '{TITLE}' window within {timeout:.0f} s")
        finally:
            app.terminate()
            try:
                app.wait(timeout=15)
            except subprocess.TimeoutExpired:  # stuck while shutting down: not what we measure
                app.kill()
                app.wait(timeout=15)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: prints each run and the median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--launcher", default="/usr/bin/ecgviewer")
    parser.add_argument("--drop-caches", action="store_true", help="cold start (needs root)")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    times = []
    with xvfb() as display:
        for run in range(1, args.runs + 1):
            if args.drop_caches:
                drop_caches()
            seconds = one_start(args.launcher, display, args.timeout)
            times.append(seconds)
            print(f"run {run}: {seconds:.2f} s")
    kind = "cold (page cache dropped)" if args.drop_caches else "warm page cache"
    print(f"median of {len(times)} ({kind}): {statistics.median(times):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
