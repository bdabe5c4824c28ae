"""Memory estimate, remembered image-read times and the load settings that change them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ecgviewer.core.case import DecodingSettings, ModelIdentity, Provenance
from ecgviewer.core.inference import memory
from ecgviewer.core.inference.encode_times import EncodeTimes, read_time_ms, timing_key
from ecgviewer.core.inference.preflight import PairFacts, ProjectorFacts, TextModelFacts
from ecgviewer.core.settings import ModelSettings, Settings

MB = 1024 * 1024


def medgemma_shaped_pair() -> PairFacts:
    """The header facts of MedGemma-4B Q4_K_M + F16 projector (sizes of the stand-in files)."""
    text = TextModelFacts(
        path=Path("medgemma-4b-Q4_K_M.gguf"), size_bytes=2_489_756_320, name="medgemma",
        architecture="gemma3", quantization="Q4_K_M", embedding_length=2560, block_count=34,
        context_length=131072, head_count_kv=4, key_length=256, value_length=256,
        has_chat_template=True, sliding_window=1024,
    )  # fmt: skip
    mmproj = ProjectorFacts(
        path=Path("mmproj-F16.gguf"), size_bytes=849_896_352, name="siglip",
        quantization="F16", projector_type="gemma3", projection_dim=2560, image_size=896,
        patch_size=14,
    )  # fmt: skip
    return PairFacts(text=text, mmproj=mmproj)


def test_estimate_matches_the_measured_peak_of_the_default_settings() -> None:
    # bench_memory.py measured a 3818 MB peak for this pair with the defaults
    expected = memory.estimate(medgemma_shaped_pair(), ModelSettings())
    assert 3818 * MB < expected.total < 4100 * MB  # above the measurement, not far above


def test_sliding_window_layers_keep_only_their_window() -> None:
    text = medgemma_shaped_pair().text
    cells = memory.kv_cells(text, 4096, 256)
    # 5 global layers see the whole context, 29 sliding-window layers 1024 + one batch
    assert cells == 5 * 4096 + 29 * (1024 + 256)
    assert memory.kv_cells(replace(text, sliding_window=0), 4096, 256) == 34 * 4096
    assert memory.kv_cells(text, 512, 256) == 34 * 512  # a short context is shorter than the window


def test_repacking_on_top_of_mmap_counts_the_weights_twice() -> None:
    pair = medgemma_shaped_pair()
    plain = memory.estimate(pair, ModelSettings(use_mmap=True, repack_weights=False))
    doubled = memory.estimate(pair, ModelSettings(use_mmap=True, repack_weights=True))
    unmapped = memory.estimate(pair, ModelSettings(use_mmap=False, repack_weights=True))
    assert doubled.weights == 2 * plain.weights
    assert unmapped.weights == plain.weights


def pair_key(threads: int, repack: bool = False) -> str:
    provenance = Provenance(model=ModelIdentity("/m/text.gguf", "a" * 64),
                            mmproj=ModelIdentity("/m/mmproj.gguf", "b" * 64))  # fmt: skip
    return timing_key(provenance, DecodingSettings(n_threads=threads, repack_weights=repack))


def test_encode_times_are_remembered_per_key_and_survive_damage(tmp_path: Path) -> None:
    file = tmp_path / "cache" / "encode-times.json"
    store = EncodeTimes(file)
    key = pair_key(threads=2)
    assert store.get(key) == 0.0  # never measured
    store.record(key, 52_400.0)
    assert EncodeTimes(file).get(key) == 52_400.0
    assert EncodeTimes(file).get(pair_key(threads=4)) == 0.0  # other settings, other time
    assert EncodeTimes(file).get(pair_key(threads=2, repack=True)) == 0.0
    file.write_text("{not json", encoding="utf-8")
    assert store.get(key) == 0.0  # a damaged file only loses the hint
    store.record(key, 1.0)
    assert json.loads(file.read_text(encoding="utf-8")) == {key: 1.0}


def test_encode_times_keep_only_the_newest_entries(tmp_path: Path) -> None:
    store = EncodeTimes(tmp_path / "times.json")
    for index in range(40):
        store.record(f"k{index}", float(index + 1))
    assert store.get("k0") == 0.0
    assert store.get("k39") == 40.0


def test_an_unwritable_cache_folder_costs_only_the_hint(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    store = EncodeTimes(blocker / "times.json")  # its folder is a file: every write fails
    store.record("k", 5.0)
    assert store.get("k") == 0.0


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ({"image_encode_ms": 40_000.0, "prompt_prefill_ms": 9_000.0}, 49_000.0),
        ({"image_encode_ms": 0.0, "prompt_prefill_ms": 0.0, "extra": {"cached": True}}, 0.0),
        ({}, 0.0),
        ("not a dict", 0.0),
    ],
)
def test_read_time_counts_real_reads_only(times: object, expected: float) -> None:
    assert read_time_ms(times) == expected


def test_prefix_cache_size_moved_into_the_model_settings() -> None:
    old = Settings.from_json({"prefix_cache_mb": 512, "model": {"n_ctx": 2048}})
    assert old.model.prefix_cache_mb == 512 and old.model.n_ctx == 2048
    new = Settings.from_json({"prefix_cache_mb": 512, "model": {"prefix_cache_mb": 64}})
    assert new.model.prefix_cache_mb == 64  # the newer place wins
    assert "prefix_cache_mb" not in Settings().to_json()
    assert Settings().model.prefix_cache_mb == 2048
