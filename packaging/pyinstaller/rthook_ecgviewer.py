"""PyInstaller runtime hook: runs first in every process of the frozen app.

1. CPU check. The bundled NumPy, Qt 6 and Python wheels are built for
   x86-64-v2 (SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B: every x86-64 processor
   since about 2009-2011). On an older processor they would die with an
   "illegal instruction" signal and no explanation; this hook says what is
   missing instead, on stderr and in a native message box, and exits with
   status 3. llama.cpp itself is built with `GGML_NATIVE=OFF` and one CPU
   backend per instruction-set level (`GGML_BACKEND_DL` + `GGML_CPU_ALL_VARIANTS`)
   and picks the best one at run time, down to plain x86-64.
   `ECGVIEWER_TEST_CPU_FLAGS` (space-separated /proc/cpuinfo flag names)
   replaces the detected flags, so the message can be tested on any machine.

2. llama.cpp backends, in the inference worker only. ggml's default search for
   its `libggml-cpu-*.so` variants looks in the executable's folder and the
   current working folder; the bundle keeps them in `llama_cpp/lib`. The worker
   loads them from exactly that folder before llama.cpp initialises, so no
   library is ever picked up from whatever folder the user started the app in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXIT_UNSUPPORTED_CPU = 3
TEST_FLAGS_ENV = "ECGVIEWER_TEST_CPU_FLAGS"
# /proc/cpuinfo flag name -> name a person may find in the processor's data sheet
REQUIRED_X86_64_V2 = {
    "ssse3": "SSSE3",
    "sse4_1": "SSE4.1",
    "sse4_2": "SSE4.2",
    "popcnt": "POPCNT",
    "cx16": "CMPXCHG16B",
}
# Windows IsProcessorFeaturePresent() codes for the features it can report.
_WINDOWS_FEATURES = {"cx16": 14, "ssse3": 36, "sse4_1": 37, "sse4_2": 38}
_WINDOWS_BUILD_WITH_SSE4_CODES = 19041  # Windows 10 2004 reports codes 36-38 reliably


def _is_x86_64() -> bool:
    import platform

    return platform.machine().lower() in {"x86_64", "amd64"}


def _linux_flags() -> set[str] | None:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


def _windows_flags() -> set[str] | None:
    if sys.getwindowsversion().build < _WINDOWS_BUILD_WITH_SSE4_CODES:  # type: ignore[attr-defined]
        return None  # older Windows answers "no" for codes it does not know: do not guess
    import ctypes

    present = ctypes.windll.kernel32.IsProcessorFeaturePresent  # type: ignore[attr-defined]
    flags = {name for name, code in _WINDOWS_FEATURES.items() if present(code)}
    return flags | {"popcnt"}  # not reported by Windows; implied by SSE4.2 on real CPUs


def _macos_flags() -> set[str] | None:
    try:
        out = subprocess.run(
            ["/usr/sbin/sysctl", "-n", "machdep.cpu.features"],
            capture_output=True, text=True, check=True, timeout=5,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    names = {"SSSE3": "ssse3", "SSE4.1": "sse4_1", "SSE4.2": "sse4_2", "POPCNT": "popcnt"}
    names["CX16"] = "cx16"
    return {names[word] for word in out.split() if word in names}


def cpu_flags() -> set[str] | None:
    """The processor's feature flags in /proc/cpuinfo spelling, or None if unknown."""
    override = os.environ.get(TEST_FLAGS_ENV)
    if override is not None:
        return set(override.split())
    if not _is_x86_64():
        return None  # Apple silicon / ARM builds have no such baseline to check
    if sys.platform.startswith("linux"):
        return _linux_flags()
    if sys.platform == "win32":
        return _windows_flags()
    if sys.platform == "darwin":
        return _macos_flags()
    return None


def missing_features(flags: set[str] | None) -> list[str]:
    """Data-sheet names of required features absent from `flags` (none when unknown)."""
    if flags is None:
        return []
    return [label for flag, label in REQUIRED_X86_64_V2.items() if flag not in flags]


def unsupported_cpu_message(missing: list[str]) -> str:
    """The sentence shown to the person who started the app."""
    return (
        "ECG Viewer cannot run on this computer: its processor lacks "
        f"{', '.join(missing)}. ECG Viewer needs a 64-bit x86 processor with the "
        "x86-64-v2 instruction set (Intel Core i3/i5/i7 or AMD FX / Ryzen, about 2011 "
        "or newer). Nothing was changed on this computer."
    )


def _show_message(text: str) -> None:
    print(f"ecgviewer: {text}", file=sys.stderr)
    if sys.stderr is not None and sys.stderr.isatty():
        return  # started from a terminal: the line above is enough
    if sys.platform == "win32":
        import ctypes

        ctypes.windll.user32.MessageBoxW(None, text, "ECG Viewer", 0x10)  # type: ignore[attr-defined]
    elif sys.platform == "darwin":
        script = f'display alert "ECG Viewer" message {_applescript_quote(text)} as critical'
        subprocess.run(["/usr/bin/osascript", "-e", script], check=False, timeout=600)
    elif os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        _show_linux_dialog(text)


def _applescript_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _show_linux_dialog(text: str) -> None:
    for tool, args in (
        ("zenity", ["--error", "--title=ECG Viewer", f"--text={text}"]),
        ("kdialog", ["--title", "ECG Viewer", "--error", text]),
        ("xmessage", ["-center", text]),
    ):
        path = shutil.which(tool)
        if path:
            subprocess.run([path, *args], check=False, timeout=600)
            return


def _check_cpu() -> None:
    missing = missing_features(cpu_flags())
    if missing:
        _show_message(unsupported_cpu_message(missing))
        raise SystemExit(EXIT_UNSUPPORTED_CPU)


def _is_inference_worker() -> bool:
    # multiprocessing's "spawn" start method runs `<exe> --multiprocessing-fork ...` when frozen
    return len(sys.argv) > 1 and sys.argv[1] == "--multiprocessing-fork"


def _load_ggml_backends() -> None:
    """Load llama.cpp's CPU backend variants from the bundle's llama_cpp/lib only."""
    lib_dir = Path(getattr(sys, "_MEIPASS", "")) / "llama_cpp" / "lib"
    if not any(lib_dir.glob("*ggml-cpu-*")):
        return  # a build without runtime dispatch (macOS): llama.cpp links its backend
    import ctypes

    names = {"win32": "ggml.dll", "darwin": "libggml.dylib"}
    if sys.platform == "win32":
        os.add_dll_directory(str(lib_dir))
    library = lib_dir / names.get(sys.platform, "libggml.so")
    ggml = ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path.restype = None
    ggml.ggml_backend_load_all_from_path(os.fsencode(lib_dir))


_check_cpu()
if getattr(sys, "frozen", False) and _is_inference_worker():
    _load_ggml_backends()
