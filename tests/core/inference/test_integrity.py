"""SHA-256 cache, the manifest of known pairs, and model discovery."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ecgviewer.core.inference.discovery import find_pair
from ecgviewer.core.inference.integrity import HashCache, find_known_pair, load_manifest
from ecgviewer.core.inference.prompts import PRESETS
from tests.core.inference.test_preflight import write_text_model
from tests.support.models import write_tiny_projector


def test_hash_is_computed_once_and_redone_when_the_file_changes(tmp_path: Path) -> None:
    data = tmp_path / "model.gguf"
    data.write_bytes(b"x" * 20_000_000)
    cache = HashCache(tmp_path / "cache.json")
    progress: list[float] = []
    digest = cache.sha256(data, progress.append)
    assert digest == hashlib.sha256(data.read_bytes()).hexdigest()
    assert len(progress) >= 3 and progress[-1] == 1.0  # reported while hashing
    progress.clear()
    assert HashCache(tmp_path / "cache.json").sha256(data, progress.append) == digest
    assert progress == [1.0]  # from the cache: no second pass over the file
    data.write_bytes(b"y" * 20_000_000)
    os.utime(data, ns=(1, 1))
    assert cache.sha256(data) == hashlib.sha256(b"y" * 20_000_000).hexdigest()


def test_known_pair_needs_both_digests(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    entry = {"name": "Test pair", "text_file": "t.gguf", "text_sha256": "AA" * 32,
             "mmproj_file": "m.gguf", "mmproj_sha256": "bb" * 32, "ecg_model": True}  # fmt: skip
    manifest.write_text(json.dumps({"pairs": [entry]}))
    pairs = load_manifest(manifest)
    assert find_known_pair("aa" * 32, "bb" * 32, pairs) is not None
    assert find_known_pair("aa" * 32, "cc" * 32, pairs) is None


def test_damaged_manifest_is_empty_not_fatal(tmp_path: Path) -> None:
    broken = tmp_path / "manifest.json"
    broken.write_text("{ not json")
    assert load_manifest(broken) == []


def test_project_manifest_is_valid() -> None:
    root = Path(__file__).resolve().parents[3]
    data = json.loads((root / "models" / "manifest.json").read_text())
    assert isinstance(data["pairs"], list)
    for pair in data["pairs"]:
        assert len(pair["text_sha256"]) == 64 and len(pair["mmproj_sha256"]) == 64


def test_discovery_matches_projector_width_not_file_names(tmp_path: Path) -> None:
    write_text_model(tmp_path / "a-text.gguf", width=640)
    write_tiny_projector(tmp_path / "b-anything.gguf", projection_dim=2560)
    write_tiny_projector(tmp_path / "c-anything.gguf", projection_dim=640)
    (tmp_path / "junk.gguf").write_text("not a model")
    assert find_pair([tmp_path / "missing", tmp_path]) == (
        tmp_path / "a-text.gguf",
        tmp_path / "c-anything.gguf",
    )


def test_presets_are_the_model_card_prompts() -> None:
    texts = [p.text for p in PRESETS]
    assert texts[0] == "Analyze this ECG and provide a detailed interpretation."
    assert "Does this ECG show signs of atrial fibrillation?" in texts
    assert len({p.key for p in PRESETS}) == len(PRESETS) == 5
