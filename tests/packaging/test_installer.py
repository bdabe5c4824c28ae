"""The Linux installer, for real: build the .deb, install it with apt, use it, remove it.

Slow (a PyInstaller build, and llama.cpp compiled once per machine) and it
installs a system package, so it runs only when asked:

    ECGVIEWER_TEST_INSTALLER=1 python -m pytest tests/packaging -v

It needs root, apt-get and dpkg (Debian/Ubuntu), and for the window test Xvfb,
xdotool and ImageMagick (`apt-get install xvfb xdotool imagemagick`).
`ECGVIEWER_TEST_DEB=path.deb` tests that package instead of building one;
`ECGVIEWER_SCREENSHOT_DIR=folder` keeps the screenshot. The tests run in file
order: install, use, then uninstall and check that nothing is left behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def startup_time() -> ModuleType:
    """packaging/linux/startup_time.py (a script, not a package), loaded by path."""
    path = Path(__file__).resolve().parents[2] / "packaging" / "linux" / "startup_time.py"
    spec = importlib.util.spec_from_file_location("startup_time", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "samples" / "sample-ecg.png"
LAUNCHER = Path("/usr/bin/ecgviewer")
PREFIX = Path("/opt/ecgviewer")
INSTALLED_FILES = [
    LAUNCHER,
    PREFIX,
    Path("/usr/share/applications/ecgviewer.desktop"),
    Path("/usr/share/metainfo/ecgviewer.metainfo.xml"),
    Path("/usr/share/icons/hicolor/256x256/apps/ecgviewer.png"),
    Path("/usr/share/icons/hicolor/scalable/apps/ecgviewer.svg"),
    Path("/usr/share/doc/ecgviewer/copyright"),
]
WINDOW_TITLE = "ECG Viewer"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("ECGVIEWER_TEST_INSTALLER") != "1",
        reason="set ECGVIEWER_TEST_INSTALLER=1 to build and install the .deb (minutes)",
    ),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the .deb is Linux-only"),
]


def _version() -> str:
    text = (REPO / "ecgviewer" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    assert match is not None
    return match.group(1)


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", "-y", *args], capture_output=True, text=True, check=False, env=env
    )


def _is_installed() -> bool:
    query = ["dpkg-query", "-W", "-f=${Status}", "ecgviewer"]
    result = subprocess.run(query, capture_output=True, text=True, check=False)
    return "install ok installed" in result.stdout


@pytest.fixture(scope="module")
def deb() -> Path:
    """The .deb: ECGVIEWER_TEST_DEB, or one built now by packaging/build_linux.sh."""
    given = os.environ.get("ECGVIEWER_TEST_DEB")
    if given:
        return Path(given).resolve()
    subprocess.run([str(REPO / "packaging" / "build_linux.sh")], check=True, cwd=REPO)
    built = REPO / "packaging" / "dist" / f"ecgviewer_{_version()}_amd64.deb"
    assert built.is_file()
    return built


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[Path]:
    """Install the .deb with apt (as a user would); remove it again afterwards."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("installing a .deb needs root and apt-get")
    if _is_installed():
        pytest.skip("ecgviewer is already installed on this machine; not touching it")
    result = _apt("install", str(deb))
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        yield deb
    finally:
        if _is_installed():
            _apt("remove", "ecgviewer")


def test_package_installs_app_launcher_menu_entry_and_icons(installed: Path) -> None:
    for path in INSTALLED_FILES:
        assert path.exists(), path
    assert LAUNCHER.resolve() == PREFIX / "ecgviewer"
    desktop = Path("/usr/share/applications/ecgviewer.desktop").read_text(encoding="utf-8")
    for mime in ("image/png", "image/jpeg", "image/tiff", "image/bmp", "image/webp"):
        assert mime in desktop
    assert "application/pdf" in desktop
    cache = Path("/usr/share/applications/mimeinfo.cache")
    if cache.exists():  # desktop-file-utils' dpkg trigger refreshed it: "Open with" works
        assert "application/pdf=" in cache.read_text() and "ecgviewer.desktop" in cache.read_text()
    lib = PREFIX / "_internal" / "llama_cpp" / "lib"
    variants = sorted(p.name for p in lib.glob("libggml-cpu-*.so"))
    assert "libggml-cpu-x64.so" in variants, variants  # plain x86-64 fallback
    assert (PREFIX / "_internal" / "ecgviewer" / "resources" / "fonts").is_dir()
    assert (PREFIX / "_internal" / "ecgviewer" / "models" / "manifest.json").is_file()
    assert not list(PREFIX.rglob("*.gguf"))
    assert (PREFIX / "_internal" / "licenses" / "README.txt").is_file()
    version = subprocess.run(
        [str(LAUNCHER), "--version"], capture_output=True, text=True, check=False
    )
    assert version.returncode == 0 and _version() in version.stdout


def test_unsupported_processor_gets_a_message_not_a_crash(installed: Path) -> None:
    env = {**os.environ, "ECGVIEWER_TEST_CPU_FLAGS": "fpu sse sse2 sse3"}
    result = subprocess.run(
        [str(LAUNCHER), "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "cannot run on this computer" in result.stderr
    assert "SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B" in result.stderr


def test_installed_cli_runs_the_small_real_model(installed: Path, tmp_path: Path) -> None:
    from tests.support import models

    command = [
        str(LAUNCHER), "interpret", str(SAMPLE),
        "--model", str(models.text_model_path()), "--mmproj", str(models.projector_path()),
        "--max-tokens", "8", "--json", "--pdf", str(tmp_path / "report.pdf"),
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["stop_reason"] in {"length", "eos"}
    assert answer["timings"]["decode_tokens"] >= 1
    assert answer["model"]["architecture"] == "gemma3"
    assert answer["ecg_model"] is False
    # the report needs reportlab and the bundled fonts (ecgviewer/resources inside the bundle)
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")


def _wait_for_paint(env: dict[str, str], shot: Path, timeout: float) -> bool:
    """Screenshots until one has more than 50 colours (the scan is drawn), or `timeout`."""
    from PIL import Image

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        subprocess.run(["import", "-window", "root", str(shot)], env=env, check=True)
        with Image.open(shot) as image:
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        if colours is not None and len(colours) > 50:
            return True
    return False


def _wait_for_window(env: dict[str, str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        search = ["xdotool", "search", "--onlyvisible", "--name", WINDOW_TITLE]
        if subprocess.run(search, capture_output=True, env=env, check=False).returncode == 0:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A private X display; yields its name ":N"."""
    for tool in ("Xvfb", "xdotool", "import"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt-get install xvfb xdotool imagemagick)")
    with startup_time().xvfb() as display:  # the same helper the start-time measurement uses
        yield display


def test_installed_app_shows_its_window_with_an_ecg(
    installed: Path, xvfb: str, ecgviewer_home: Path, tmp_path: Path
) -> None:
    settings = ecgviewer_home / "config" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"disclaimer_acknowledged": True}))
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    app = subprocess.Popen([str(LAUNCHER), str(SAMPLE)], env=env, cwd=tmp_path)
    try:
        assert _wait_for_window(env, timeout=60), "no 'ECG Viewer' window within 60 s"
        shot = tmp_path / "installed-app.png"
        painted = _wait_for_paint(env, shot, timeout=60)  # the scan drawn, not a fixed wait
        assert app.poll() is None
    finally:
        app.terminate()
        app.wait(timeout=20)
    assert painted, "the screenshot stayed (nearly) blank for 60 s"
    keep = os.environ.get("ECGVIEWER_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


def test_uninstall_leaves_nothing_behind(installed: Path) -> None:
    result = _apt("remove", "ecgviewer")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not _is_installed()
    left = [str(p) for p in INSTALLED_FILES if p.exists() or p.is_symlink()]
    left += [str(p) for p in Path("/usr/share/icons/hicolor").glob("*/apps/ecgviewer.*")]
    assert left == []
    cache = Path("/usr/share/applications/mimeinfo.cache")
    assert not cache.exists() or "ecgviewer" not in cache.read_text()
