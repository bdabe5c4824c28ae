"""Offline by default: with no server configured, nothing opens a network connection.

Every Python process the commands start (the CLI and its spawned inference
worker) loads a `sitecustomize` that refuses and records any IPv4/IPv6 connect,
name lookup or `create_connection`. The test proves the hook reached both
processes, then that nothing was attempted while a scan was straightened, read
by the real model, written to a PDF, and a digital recording was drawn.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecgviewer.core.imaging.synthetic import render
from tests.support import models

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
WAVEFORMS = REPO.parent / "shared" / "ecg-samples" / "waveforms"

GUARD = """
import os, socket

_LOG = os.environ["ECGVIEWER_TEST_NET_LOG"]


def _note(line):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {line}\\n")


def _inet(sock):
    return sock.family in (socket.AF_INET, socket.AF_INET6)


def _wrap(name):
    original = getattr(socket.socket, name)

    def guarded(self, address, *args):
        if _inet(self):
            _note(f"{name} {address!r}")
            raise OSError("network blocked by the offline test")
        return original(self, address, *args)

    setattr(socket.socket, name, guarded)


for _name in ("connect", "connect_ex", "sendto"):
    _wrap(_name)


def _refused(*args, **kwargs):
    _note(f"lookup or connection {args!r}")
    raise OSError("network blocked by the offline test")


socket.getaddrinfo = _refused
socket.create_connection = _refused
_note("guard active")
"""


def _guarded_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    log = tmp_path / "network.log"
    env = {**os.environ, "ECGVIEWER_TEST_NET_LOG": str(log), "ECGVIEWER_HOME": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(hook), str(REPO)])}  # fmt: skip
    env.pop("ECGVIEWER_SERVER_KEY", None)
    return env, log


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ecgviewer", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip


def test_reading_a_scan_and_drawing_a_recording_open_no_connection(tmp_path: Path) -> None:
    env, log = _guarded_env(tmp_path)
    scan = tmp_path / "scan.png"
    render(width_px=1400).image.rotate(3, expand=True, fillcolor=(70, 70, 70)).save(scan)
    pair = ["--model", str(models.text_model_path()), "--mmproj", str(models.projector_path())]
    read = _run(env, "interpret", str(scan), *pair, "--max-tokens", "6", "--ctx", "1024",
                "--json", "--pdf", str(tmp_path / "report.pdf"))  # fmt: skip
    assert read.returncode == 0, read.stderr
    runs = [read]
    if (WAVEFORMS / "ptbxl_00001_lr.hea").exists():
        runs.append(_run(env, "preprocess", str(WAVEFORMS / "ptbxl_00001_lr.hea"), "--json"))
        assert runs[-1].returncode == 0, runs[-1].stderr
    lines = log.read_text(encoding="utf-8").splitlines()
    active = {line.split()[0] for line in lines if line.endswith("guard active")}
    assert len(active) >= 2, lines  # the CLI and its inference worker were both guarded
    attempts = [line for line in lines if not line.endswith("guard active")]
    assert attempts == [], attempts
