"""Collect the licence files of everything the PyInstaller bundle ships.

Used by packaging/ecgviewer.spec after the analysis, so it sees exactly the
Python packages and shared libraries that went into the bundle:

* every bundled distribution's licence files from its .dist-info (or, where a
  wheel ships none, its licence metadata plus the full licence text kept in
  packaging/licenses/, e.g. LGPL-3.0 for PySide6 and Qt);
* the Python interpreter's LICENSE;
* llama.cpp's own licence (vendored inside llama-cpp-python's sdist);
* on Debian-like systems, the copyright file of each system library the
  bundle picked up from /usr (found with `dpkg -S`).

It writes an index, licenses/README.txt, and returns PyInstaller TOC entries.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

LICENSE_NAME = re.compile(r"(LICEN[CS]E|COPYING|NOTICE|AUTHORS|COPYRIGHT)", re.IGNORECASE)
HERE = Path(__file__).resolve().parent
FULL_TEXTS = HERE.parent / "licenses"
# Wheels that ship no licence file: the licence text to add, by distribution name.
KNOWN_TEXTS = {
    "pyside6-essentials": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "shiboken6": ("LGPL-3.0.txt", "GPL-3.0.txt"),
}
Toc = list[tuple[str, str, str]]
"""PyInstaller TOC entries: (destination in the bundle, source file, "DATA")."""


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions_for(modules: Iterable[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions that provide the given top-level module names."""
    owners = metadata.packages_distributions()
    found: dict[str, metadata.Distribution] = {}
    for module in sorted(set(modules)):
        for dist_name in owners.get(module, []):
            dist = metadata.distribution(dist_name)
            found[_normal(dist.metadata["Name"])] = dist
    return found


def _dist_license_files(dist: metadata.Distribution) -> list[tuple[str, Path]]:
    """(path relative to the .dist-info folder, file) for each licence file of `dist`."""
    files = []
    for entry in dist.files or []:
        parts = entry.parts
        in_info = bool(parts) and parts[0].endswith(".dist-info")
        if in_info and ("licenses" in parts or LICENSE_NAME.search(entry.name)):
            source = Path(str(dist.locate_file(entry)))
            if source.is_file():
                files.append(("/".join(parts[1:]), source))
    return files


def _licence_field(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    values = meta.get_all("License-Expression") or meta.get_all("License") or []
    return values[0] if values else "see the files here"


def _system_library_packages(sources: Iterable[str]) -> dict[str, Path]:
    """Debian package -> copyright file for libraries taken from the system."""
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        return {}
    packages: dict[str, Path] = {}
    for source in sources:
        real = Path(source).resolve()
        if not str(real).startswith(("/usr/", "/lib")):
            continue
        out = subprocess.run([dpkg, "-S", str(real)], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            continue
        package = out.stdout.split(":", 1)[0].strip()
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        if copyright_file.is_file():
            packages[package] = copyright_file
    return packages


def collect(
    modules: Iterable[str],
    binary_sources: Iterable[str],
    extra: dict[str, list[Path]],
    workdir: Path,
) -> Toc:
    """Return TOC entries placing every licence under `licenses/<component>/`."""
    workdir.mkdir(parents=True, exist_ok=True)
    toc: Toc = []
    index = ["Licences of the components bundled with ECG Viewer", ""]

    def add(component: str, files: Iterable[tuple[str, Path]], licence: str) -> None:
        names = []
        for relative, source in files:
            toc.append((f"licenses/{component}/{relative}", str(source), "DATA"))
            names.append(relative)
        index.append(f"{component}: {licence} ({', '.join(sorted(set(names))) or 'no file'})")

    def named(paths: Iterable[Path]) -> list[tuple[str, Path]]:
        return [(path.name, path) for path in paths]

    for name, dist in sorted(distributions_for(modules).items()):
        files = _dist_license_files(dist)
        files += named(FULL_TEXTS / text for text in KNOWN_TEXTS.get(name, ()))
        if not files:
            note = workdir / f"{name}-LICENSE-METADATA.txt"
            note.write_text(f"{dist.metadata['Name']} {dist.version}: {_licence_field(dist)}\n")
            files = named([note])
        add(f"{name}-{dist.version}", files, _licence_field(dist))
    for component, paths in sorted(extra.items()):
        add(component, named(paths), "see the files here")
    for package, copyright_file in sorted(_system_library_packages(binary_sources).items()):
        add(f"debian-{package}", named([copyright_file]), "Debian copyright file")
    (workdir / "README.txt").write_text("\n".join(index) + "\n", encoding="utf-8")
    toc.append(("licenses/README.txt", str(workdir / "README.txt"), "DATA"))
    return toc


def python_license() -> list[Path]:
    """The interpreter's own LICENSE file (its place differs per platform)."""
    base = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [base / "LICENSE.txt", base / "lib" / version / "LICENSE.txt"]
    return [c for c in candidates if c.is_file()][:1]
