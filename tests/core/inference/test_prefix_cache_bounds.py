"""The prefix cache's bounds: two states in memory, the rest on disk within its limit."""

from __future__ import annotations

from pathlib import Path

from ecgviewer.core.inference.prefix_cache import MEMORY_ITEMS, Prefix, PrefixCache


def state(tag: int, size: int = 1000) -> Prefix:
    return Prefix(bytes([tag]) * size, tokens=10 + tag, text=f"before {tag}", after="after")


def test_memory_holds_only_the_newest_states() -> None:
    assert MEMORY_ITEMS == 2  # the current image and the one before (docs/runtime.md)
    cache = PrefixCache(None, 0)  # no disk
    for tag in range(MEMORY_ITEMS + 1):
        cache.put(f"k{tag}", state(tag))
    assert cache.get("k0") is None  # pushed out of memory, and there is no disk
    assert cache.get(f"k{MEMORY_ITEMS}") == state(MEMORY_ITEMS)


def test_older_states_come_back_from_disk_intact(tmp_path: Path) -> None:
    cache = PrefixCache(tmp_path, 10_000)
    for tag in range(MEMORY_ITEMS + 2):
        cache.put(f"k{tag}", state(tag))
    assert cache.get("k0") == state(0)  # read back from its file


def test_disk_stays_within_its_limit(tmp_path: Path) -> None:
    cache = PrefixCache(tmp_path, 2_500)  # room for two 1000-byte states and their headers
    for tag in range(5):
        cache.put(f"k{tag}", state(tag))
    files = list(tmp_path.glob("*.prefix"))
    assert sum(f.stat().st_size for f in files) <= 2_500
    assert len(files) == 2
