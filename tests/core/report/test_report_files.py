"""Writing the report: atomic, with clear messages; paper size from the locale."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from PIL import Image

from ecgviewer.core.atomic import describe_os_error
from ecgviewer.core.errors import ReportError
from ecgviewer.core.report import paper_for_locale, resolve_page_size, write_report
from ecgviewer.core.report.pagesize import system_locale_name, territory_of
from tests.core.report.samples import make_case


def write(tmp_target: Path, ecg: Image.Image, original: Image.Image) -> Path:
    return write_report(make_case(), ecg, original, tmp_target, page_size="A4")


def failing(code: int) -> object:
    def _raise(*_args: object, **_kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return _raise


def test_writes_the_file_and_returns_its_absolute_path(
    tmp_path: Path,
    ecg_image: Image.Image,
    original_image: Image.Image,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(Path("out.pdf"), ecg_image, original_image)
    assert path == tmp_path / "out.pdf" and path.is_absolute()
    assert path.read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]


@pytest.mark.parametrize(
    ("where", "code", "words"),
    [
        ("replace", errno.ENOSPC, "the disk is full"),
        ("fsync", errno.ENOSPC, "the disk is full"),
        ("replace", errno.EACCES, "permission denied"),
        ("fsync", errno.EIO, "Input/output error"),
    ],
)
def test_a_failed_write_leaves_nothing_behind_and_says_why(  # noqa: PLR0917 - fixtures
    tmp_path: Path,
    ecg_image: Image.Image,
    original_image: Image.Image,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    code: int,
    words: str,
) -> None:
    target = tmp_path / "report.pdf"
    monkeypatch.setattr(os, where, failing(code))
    with pytest.raises(ReportError) as caught:
        write(target, ecg_image, original_image)
    assert str(caught.value).startswith(f"Could not write the report to {target}: {words}.")
    assert isinstance(caught.value.__cause__, OSError)
    assert list(tmp_path.iterdir()) == []  # no partial PDF, no temporary file


def test_a_failed_write_keeps_the_earlier_report(
    tmp_path: Path,
    ecg_image: Image.Image,
    original_image: Image.Image,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "report.pdf"
    target.write_bytes(b"earlier report")
    monkeypatch.setattr(os, "replace", failing(errno.ENOSPC))
    with pytest.raises(ReportError):
        write(target, ecg_image, original_image)
    assert target.read_bytes() == b"earlier report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def test_a_missing_folder_is_named(
    tmp_path: Path, ecg_image: Image.Image, original_image: Image.Image
) -> None:
    with pytest.raises(ReportError, match="the folder does not exist"):
        write(tmp_path / "nowhere" / "report.pdf", ecg_image, original_image)


def test_a_folder_in_the_way_is_named(
    tmp_path: Path, ecg_image: Image.Image, original_image: Image.Image
) -> None:
    (tmp_path / "report.pdf").mkdir()
    with pytest.raises(ReportError, match="a folder with that name exists"):
        write(tmp_path / "report.pdf", ecg_image, original_image)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write anywhere"
)
def test_a_read_only_folder_is_permission_denied(
    tmp_path: Path, ecg_image: Image.Image, original_image: Image.Image
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ReportError, match="permission denied"):
            write(folder / "report.pdf", ecg_image, original_image)
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_a_file_open_in_another_program_on_windows_is_named() -> None:
    error = PermissionError(errno.EACCES, "The process cannot access the file")
    error.winerror = 32  # type: ignore[attr-defined]
    message = str(describe_os_error(error, Path("C:/reports/r.pdf")))
    assert "the file is open in another program" in message


@pytest.mark.parametrize(
    ("name", "territory", "paper"),
    [
        ("en_US.UTF-8", "US", "Letter"),
        ("fr_CA.UTF-8", "CA", "Letter"),
        ("es_MX", "MX", "Letter"),
        ("en_PH.utf8@euro", "PH", "Letter"),
        ("English_United States", "US", "Letter"),
        ("en_GB.UTF-8", "GB", "A4"),
        ("de_DE@euro", "DE", "A4"),
        ("German_Germany", "GERMANY", "A4"),
        ("C.UTF-8", "", "A4"),
        ("POSIX", "", "A4"),
        ("", "", "A4"),
    ],
)
def test_paper_from_locale(name: str, territory: str, paper: str) -> None:
    assert territory_of(name) == territory
    assert paper_for_locale(name) == paper


def test_locale_variables_in_posix_order() -> None:
    env = {"LANG": "de_DE.UTF-8", "LC_PAPER": "en_US.UTF-8"}
    assert system_locale_name(env) == "en_US.UTF-8"
    assert system_locale_name({**env, "LC_ALL": "fr_FR.UTF-8"}) == "fr_FR.UTF-8"
    assert resolve_page_size("auto", env)[0] == "Letter"
    assert resolve_page_size("auto", {"LANG": "C"})[0] == "A4"


def test_page_size_names() -> None:
    assert resolve_page_size("a4")[0] == "A4"
    assert resolve_page_size("US Letter")[0] == "Letter"
    assert resolve_page_size("letter")[1] == (612.0, 792.0)
    with pytest.raises(ReportError, match="Unknown page size 'A5'"):
        resolve_page_size("A5")
