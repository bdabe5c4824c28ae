"""What this computer offers llama.cpp, read from llama.cpp itself, and what follows from it.

The feature line comes from `llama_print_system_info()` inside the inference
worker (`probe()`), because that is what the compiled CPU backend really uses:
a CPU may have AMX while the build has no AMX kernels, and the reverse cannot
happen. /proc/cpuinfo is read only for the processor's name, for display.

Known-bad combinations are decided here, in one place, for the runtime (which
tells the user before loading) and the engine (which never loads them):

* llama.cpp's AMX buffer type crashes (SIGSEGV in `ggml_backend_amx_mul_mat`)
  on Q4_K weights repacked for it: llama.cpp issue 20824, unfixed in the
  llama.cpp of llama-cpp-python 0.3.36. Repacking ("extra buffer types") is
  all-or-nothing in `llama_model_params.use_extra_bufts`, so on a CPU where
  llama.cpp uses AMX, weights are never repacked.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass

AMX_REPACK_REASON = "Not available on this CPU: llama.cpp's AMX path crashes with Q4_K weights"

# llama.cpp's feature names, grouped into what a person recognises
_FAMILIES = (
    ("AVX", ("AVX",)),
    ("AVX2", ("AVX2",)),
    ("AVX-512", ("AVX512",)),
    ("AMX", ("AMX_INT8", "AMX_BF16", "AMX_TILE")),
    ("NEON", ("NEON",)),
    ("SVE", ("SVE",)),
)


@dataclass(frozen=True)
class MachineFacts:
    """The processor and llama.cpp's CPU feature line; plain data."""

    cpu: str = ""
    features: str = ""  # llama_print_system_info(), e.g. "CPU : SSE3 = 1 | ... | AMX_INT8 = 1 |"
    logical_cpus: int = 0

    @property
    def flags(self) -> frozenset[str]:
        """The features llama.cpp reports as present (`NAME = 1`)."""
        return frozenset(re.findall(r"([A-Z0-9_]+) = 1\b", self.features))

    @property
    def has_amx(self) -> bool:
        return any(flag.startswith("AMX") for flag in self.flags)

    @property
    def families(self) -> list[str]:
        """ "AVX2", "AVX-512", "AMX"...: the instruction sets llama.cpp uses here."""
        flags = self.flags
        found = [name for name, names in _FAMILIES if any(n in flags for n in names)]
        return [name for name in found if not (name == "AVX" and "AVX2" in found)]

    def summary(self, threads: int = 0) -> str:
        """One short line: "Intel Xeon; AVX2, AVX-512, AMX; 2 threads"."""
        parts = [self.cpu or "unknown CPU"]
        families = ", ".join(self.families)
        if families:
            parts.append(families)
        if threads:
            parts.append(f"{threads} thread{'s' if threads != 1 else ''}")
        return "; ".join(parts)

    @property
    def key(self) -> str:
        """What identifies this machine's engine for remembered settings."""
        return f"{self.cpu}|{self.features.strip()}"


def repack_refusal(facts: MachineFacts) -> str:
    """Why weight repacking may not be used on this machine ("" when it may)."""
    return AMX_REPACK_REASON if facts.has_amx else ""


def probe() -> MachineFacts:
    """Inference worker only: read llama.cpp's feature line (imports llama_cpp)."""
    import llama_cpp

    llama_cpp.llama_backend_init()
    features = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    return MachineFacts(cpu_name(), " ".join(features.split()), os.cpu_count() or 0)


def cpu_name() -> str:
    """The processor's marketing name, for display ("" when the system will not say)."""
    name = ""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if line.startswith(("model name", "Model", "Hardware")):
                        name = line.split(":", 1)[1].strip()
                        break
        except OSError:
            name = ""
    if not name:
        name = platform.processor() or platform.machine()
    return re.sub(r"\((R|TM)\)|\s+CPU\b|\s+@.*$", "", name, flags=re.IGNORECASE).strip()


def buffer_types(load_log: str) -> list[str]:
    """The weight buffer types llama.cpp reported while loading ("CPU_Mapped", "AMX"...).

    llama.cpp logs one "NAME model buffer size = N MiB" line per buffer type that
    holds weights; that is the only place it says which repacked layouts it chose.
    """
    found = re.findall(r"(\S+) model buffer size", load_log)
    return list(dict.fromkeys(found))
