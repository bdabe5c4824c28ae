"""Checking a model pair before it is loaded: headers, SHA-256, the manifest, memory.

A plain function, not a method of the runtime: it reads files and needs no
worker, so the model dialog runs it on a pool thread while the model thread may
be loading or answering, and `ModelRuntime.load` runs it on the model thread.
Both share the per-user hash cache file; each caller has its own `HashCache`
(whose lock covers a dialog that starts a second check before the first ends).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ecgviewer.core.case import ModelIdentity, Provenance
from ecgviewer.core.inference import memory
from ecgviewer.core.inference.integrity import (
    HashCache,
    KnownPair,
    find_known_pair,
    load_manifest,
)
from ecgviewer.core.inference.loaded import is_ecg_model_name
from ecgviewer.core.inference.preflight import PairFacts, check_pair
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.settings import ModelSettings

LoadProgress = Callable[[str, float], None]
"""(stage, fraction in [0, 1]) where stage is "checking", "hashing" or "loading"."""

CheckedFiles = tuple[PairFacts, Provenance, memory.MemoryEstimate]


def check_model_pair(
    text: Path, mmproj: Path, settings: ModelSettings, paths: AppPaths, *,
    hashes: HashCache | None = None, manifest: Path | None = None,
    progress: LoadProgress | None = None,
) -> CheckedFiles:  # fmt: skip
    """Preflight, hash and memory-check a pair without loading it; raises ModelError.

    Any thread. `manifest` adds to the user's manifest of known pairs (None: the
    project's own).
    """
    report = progress or (lambda stage, fraction: None)
    report("checking", 0.0)
    facts = check_pair(text, mmproj)
    expected = memory.estimate(facts, settings)
    memory.check_fits(expected, memory.available_memory())
    total = facts.text.size_bytes + facts.mmproj.size_bytes
    share = facts.text.size_bytes / total

    def text_part(fraction: float) -> None:
        report("hashing", fraction * share)

    def mmproj_part(fraction: float) -> None:
        report("hashing", share + fraction * (1 - share))

    cache = hashes or HashCache(paths.hash_cache_file)
    text_sha = cache.sha256(facts.text.path, text_part)
    mmproj_sha = cache.sha256(facts.mmproj.path, mmproj_part)
    known_pairs = load_manifest(manifest) + load_manifest(paths.user_manifest_file)
    return facts, pair_provenance(facts, text_sha, mmproj_sha, known_pairs), expected


def pair_provenance(
    facts: PairFacts, text_sha: str, mmproj_sha: str, manifest: list[KnownPair]
) -> Provenance:
    """Who the pair is: its files and digests, and whether the manifest knows it."""
    known = find_known_pair(text_sha, mmproj_sha, manifest)
    ecg = known.ecg_model if known else is_ecg_model_name(facts.text.name, facts.text.path.name)
    return Provenance(
        model=ModelIdentity(str(facts.text.path), text_sha, facts.text.architecture,
                            facts.text.quantization, facts.text.size_bytes),
        mmproj=ModelIdentity(str(facts.mmproj.path), mmproj_sha, "clip",
                             facts.mmproj.quantization, facts.mmproj.size_bytes),
        known_pair=known.name if known else "",
        fallback_template=not facts.text.has_chat_template,
        is_ecg_model=ecg,
    )  # fmt: skip
