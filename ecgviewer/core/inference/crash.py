"""When the inference engine dies: what it was doing, how it died, and what to do next.

* `Phase` is written by the worker into shared memory before each step, so it
  can still be read after the process is gone.
* `CrashReport` turns the phase and the exit code into one honest sentence.
* `CrashGuard` is the crash-loop guard: after a crash the runtime reloads once
  in the safest configuration; a second crash in a row ends the retries.
* `SafeConfigs` remembers, per model pair and machine, that the safe
  configuration was needed, so the next start does not crash again.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path
from typing import Any

from ecgviewer.core.inference.spec import LoadSpec
from ecgviewer.core.json_cache import read_json_object, write_json_quietly


class Phase(IntEnum):
    """What the worker is doing; shared with the viewer through a multiprocessing.Value."""

    IDLE = 0
    STARTING = 1
    LOADING = 2
    READING_IMAGE = 3
    PREFILL = 4
    DECODING = 5

    @property
    def during(self) -> str:
        """Words for a sentence: "stopped unexpectedly while reading the image"."""
        return _DURING[self]


_DURING = {
    Phase.IDLE: "while waiting for a request",
    Phase.STARTING: "while starting",
    Phase.LOADING: "while loading the model",
    Phase.READING_IMAGE: "while reading the image",
    Phase.PREFILL: "while reading the prompt",
    Phase.DECODING: "while writing the answer",
}

_SIGNAL_WORDS = {
    "SIGSEGV": "segmentation fault",
    "SIGBUS": "bus error",
    "SIGILL": "illegal instruction: this CPU lacks an instruction the engine uses",
    "SIGFPE": "arithmetic error",
    "SIGABRT": "aborted",
    "SIGKILL": "killed, possibly because the computer ran out of memory",
    "SIGTERM": "terminated",
}

_WINDOWS_CODES = {  # NTSTATUS values a native crash exits with on Windows
    0xC0000005: "access violation",
    0xC000001D: "illegal instruction: this CPU lacks an instruction the engine uses",
    0xC00000FD: "stack overflow",
    0xC0000409: "aborted",
}


@dataclass(frozen=True)
class CrashReport:
    """How and when the worker died; plain data."""

    phase: Phase
    exit_code: int | None

    @property
    def signal_name(self) -> str:
        """ "SIGSEGV" for a process killed by a signal, "" otherwise."""
        if self.exit_code is None or self.exit_code >= 0:
            return ""
        try:
            return signal.Signals(-self.exit_code).name
        except ValueError:
            return f"signal {-self.exit_code}"

    @property
    def cause(self) -> str:
        """ "segmentation fault", "exit code 3"...: how, in words."""
        if self.signal_name:
            return _SIGNAL_WORDS.get(self.signal_name, self.signal_name)
        if self.exit_code is None:
            return "no exit code"
        if sys.platform == "win32" and (self.exit_code & 0xFFFFFFFF) in _WINDOWS_CODES:
            return _WINDOWS_CODES[self.exit_code & 0xFFFFFFFF]
        return f"exit code {self.exit_code}"

    def sentence(self, *, again: bool = False, signal: bool = False) -> str:
        """ "The inference engine stopped unexpectedly while reading the image (segmentation
        fault)." `signal` adds the signal's name ("SIGSEGV") for the log-minded."""
        word = " again" if again else ""
        how = f"{self.cause}, {self.signal_name}" if signal and self.signal_name else self.cause
        return f"The inference engine stopped unexpectedly{word} {self.phase.during} ({how})."

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase.name.lower(), "exit_code": self.exit_code,
                "signal": self.signal_name}  # fmt: skip


def safest(spec: LoadSpec) -> LoadSpec:
    """The configuration least likely to crash: no repacking, no GPU.

    Flash attention is kept: it ran on every CPU kind this project is tested on
    (AMD EPYC, Intel with AMX), and turning it off costs about 20 s per image
    and 1 GB of memory with MedGemma-4B (docs/performance.md).
    """
    return replace(spec, repack=False, n_gpu_layers=0)


def describe_changes(before: LoadSpec, after: LoadSpec) -> str:
    """ "with weight repacking off and without the GPU", or "" when nothing changed."""
    changes = []
    if before.repack and not after.repack:
        changes.append("weight repacking off")
    if before.n_gpu_layers and not after.n_gpu_layers:
        changes.append("the GPU off")
    return f"with {' and '.join(changes)}" if changes else ""


class CrashGuard:
    """Counts crashes in a row and decides whether to restart (one owner thread)."""

    MAX_IN_A_ROW = 2

    def __init__(self) -> None:
        self.in_a_row = 0
        self.last: CrashReport | None = None

    def record(self, crash: CrashReport) -> bool:
        """Note a crash; True when one automatic restart may follow."""
        self.in_a_row += 1
        self.last = crash
        return self.in_a_row < self.MAX_IN_A_ROW

    def succeeded(self) -> None:
        """A whole answer was written: a later crash starts a new count.

        An image read alone does not count: the AMX crash comes in the first
        decode, after a read that succeeded.
        """
        self.in_a_row = 0


class SafeConfigs:
    """Pairs that needed the safe configuration on this machine, remembered on disk.

    Keyed by both files' SHA-256 and the machine's CPU feature line; holds only
    hashes, flags and the crash's phase and signal, nothing about patients.
    """

    def __init__(self, path: Path) -> None:
        self._path = path

    @staticmethod
    def key(text_sha: str, mmproj_sha: str, machine_key: str) -> str:
        return f"{text_sha}:{mmproj_sha}:{machine_key}"

    def get(self, key: str) -> dict[str, Any] | None:
        entry = read_json_object(self._path).get(key)
        return entry if isinstance(entry, dict) else None

    def remember(self, key: str, crash: CrashReport, changes: str) -> None:
        entries = read_json_object(self._path)
        entries[key] = {"crash": crash.to_json(), "changes": changes}
        write_json_quietly(self._path, entries, what="remembered crash settings")

    def count(self) -> int:
        return len(read_json_object(self._path))

    def forget(self, key: str | None = None) -> int:
        """Forget one pair's entry, or all of them; returns how many were forgotten."""
        entries = read_json_object(self._path)
        if key is None:
            count = len(entries)
            entries = {}
        else:
            count = int(entries.pop(key, None) is not None)
        write_json_quietly(self._path, entries, what="remembered crash settings")
        return count
