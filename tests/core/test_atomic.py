"""The one atomic write: all or nothing, the earlier file kept, and why in plain words."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecgviewer.core.atomic import write_atomically, write_text_atomically
from ecgviewer.core.errors import ReportError, StorageError


def failing(code: int) -> object:
    def _raise(*_args: object, **_kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return _raise


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB filesystem (tmpfs), already holding a 16 KiB file; root only."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root on Linux")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
        capture_output=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_writes_and_returns_the_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_text_atomically("hello", Path("a.txt"))
    assert path == tmp_path / "a.txt" and path.is_absolute()
    assert path.read_text(encoding="utf-8") == "hello"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_replaces_an_earlier_file(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_text("old", encoding="utf-8")
    write_atomically(b"new", target)
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_a_real_full_disk_keeps_the_earlier_file_and_leaves_no_temporary(
    full_disk: Path,
) -> None:
    target = full_disk / "report.pdf"
    target.write_bytes(b"earlier" * 2000)
    with pytest.raises(StorageError) as caught:
        write_atomically(b"x" * 200_000, target, what="the report", kind=ReportError)
    assert isinstance(caught.value, ReportError)
    message = str(caught.value)
    assert message.startswith(f"Could not write the report to {target}: the disk is full.")
    assert "Free some space" in str(caught.value)
    assert caught.value.__cause__.errno == errno.ENOSPC  # type: ignore[union-attr]
    assert target.read_bytes() == b"earlier" * 2000
    assert [p.name for p in full_disk.iterdir()] == ["report.pdf"]


@pytest.mark.parametrize(
    ("where", "code", "words"),
    [
        ("open", errno.ENOSPC, "the disk is full"),
        ("fsync", errno.EDQUOT, "your disk quota is used up"),
        ("replace", errno.EACCES, "permission denied"),
        ("replace", errno.EROFS, "the disk is read-only"),
        ("fsync", errno.EIO, "Input/output error"),
    ],
)
def test_a_failed_step_keeps_the_earlier_file_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, code: int, words: str
) -> None:
    target = tmp_path / "run.meta.json"
    target.write_text("earlier", encoding="utf-8")
    monkeypatch.setattr(os, where, failing(code))
    with pytest.raises(StorageError) as caught:
        write_text_atomically("later", target, what="the run description")
    assert str(caught.value).startswith(
        f"Could not write the run description to {target}: {words}."
    )
    assert isinstance(caught.value.__cause__, OSError)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["run.meta.json"]


def test_a_missing_folder_and_a_folder_in_the_way_are_named(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="the folder does not exist"):
        write_atomically(b"x", tmp_path / "nowhere" / "a.png")
    (tmp_path / "a.png").mkdir()
    with pytest.raises(StorageError, match="a folder with that name exists"):
        write_atomically(b"x", tmp_path / "a.png")


def test_not_durable_skips_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "fsync", failing(errno.EIO))
    write_atomically(b"cache", tmp_path / "k.prefix", durable=False)
    assert (tmp_path / "k.prefix").read_bytes() == b"cache"
