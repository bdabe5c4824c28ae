"""Machine facts from llama.cpp's feature line, and the crash guard's decisions (no llama.cpp)."""

from __future__ import annotations

import signal
from pathlib import Path

from ecgviewer.core.inference.crash import (
    CrashGuard,
    CrashReport,
    Phase,
    SafeConfigs,
    describe_changes,
    safest,
)
from ecgviewer.core.inference.machine import (
    AMX_REPACK_REASON,
    MachineFacts,
    buffer_types,
    repack_refusal,
)
from ecgviewer.core.inference.spec import LoadSpec

SAPPHIRE_RAPIDS = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
    "BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | "
    "AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |"
)
EPYC = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | AVX512 = 0 |"


def test_amx_is_read_from_llama_cpps_line_and_refuses_repacking() -> None:
    xeon = MachineFacts("Intel Xeon Processor", SAPPHIRE_RAPIDS, 2)
    assert xeon.has_amx
    assert repack_refusal(xeon) == AMX_REPACK_REASON
    assert xeon.summary(2) == "Intel Xeon Processor; AVX2, AVX-512, AMX; 2 threads"
    epyc = MachineFacts("AMD EPYC 7B13", EPYC, 2)
    assert not epyc.has_amx  # "AVX512 = 0" is not a feature
    assert repack_refusal(epyc) == ""
    assert epyc.families == ["AVX2"]
    assert xeon.key != epyc.key


def test_buffer_types_come_from_llama_cpps_load_log() -> None:
    log = (
        "load_tensors:          AMX model buffer size =   213.91 MiB\n"
        "load_tensors:   CPU_Mapped model buffer size =   235.16 MiB\n"
        "llama_kv_cache:        CPU KV buffer size =     0.75 MiB\n"
    )
    assert buffer_types(log) == ["AMX", "CPU_Mapped"]  # weights only, not KV or compute


def test_a_crash_report_names_the_phase_and_the_signal() -> None:
    crash = CrashReport(Phase.READING_IMAGE, -signal.SIGSEGV)
    assert crash.signal_name == "SIGSEGV"
    assert crash.sentence() == (
        "The inference engine stopped unexpectedly while reading the image (segmentation fault)."
    )
    assert crash.sentence(again=True, signal=True).endswith(
        "again while reading the image (segmentation fault, SIGSEGV)."
    )
    assert CrashReport(Phase.LOADING, 3).cause == "exit code 3"
    assert crash.to_json() == {"phase": "reading_image", "exit_code": -11, "signal": "SIGSEGV"}


def test_the_guard_allows_one_restart_until_an_answer_succeeds() -> None:
    guard = CrashGuard()
    crash = CrashReport(Phase.DECODING, -signal.SIGSEGV)
    assert guard.record(crash) is True
    assert guard.record(crash) is False  # two in a row: no third attempt
    guard.succeeded()
    assert guard.record(crash) is True


def test_the_safest_configuration_and_what_it_changed() -> None:
    spec = LoadSpec("t.gguf", "m.gguf", n_gpu_layers=20, repack=True, flash_attn=True)
    safe = safest(spec)
    assert (safe.repack, safe.n_gpu_layers, safe.flash_attn) == (False, 0, True)
    assert describe_changes(spec, safe) == "with weight repacking off and the GPU off"
    assert describe_changes(safe, safest(safe)) == ""


def test_safe_configurations_are_remembered_and_forgotten(tmp_path: Path) -> None:
    store = SafeConfigs(tmp_path / "safe.json")
    key = SafeConfigs.key("a" * 64, "b" * 64, "cpu|features")
    assert store.get(key) is None
    store.remember(key, CrashReport(Phase.DECODING, -11), "with weight repacking off")
    assert store.get(key) == {
        "crash": {"phase": "decoding", "exit_code": -11, "signal": "SIGSEGV"},
        "changes": "with weight repacking off",
    }
    assert SafeConfigs(tmp_path / "safe.json").count() == 1  # on disk
    assert store.forget(key) == 1 and store.count() == 0
