"""Print the Debian `Depends` value for a PyInstaller bundle, computed by dpkg-shlibdeps.

The Linux bundle ships Python, Qt, OpenCV, NumPy and llama.cpp but not the
distribution's own libraries (X11/xcb, fontconfig, libstdc++, OpenSSL ...):
those come from the system, so this script asks dpkg-shlibdeps which packages
(and minimum versions, from the symbols files) every ELF file in the bundle
needs. Libraries the bundle ships itself are found through `-l` and skipped.

    python packaging/linux/deb_depends.py packaging/dist/ecgviewer

Every library the bundle needs must be installed on the build machine; the
error message names any that is not.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
CONTROL = "Source: ecgviewer\n\nPackage: ecgviewer\nArchitecture: amd64\n"


def elf_files(bundle: Path) -> list[Path]:
    """Every regular ELF file below `bundle` (symbolic links are skipped)."""
    found = []
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as handle:
            if handle.read(4) == ELF_MAGIC:
                found.append(path)
    return found


def shlibdeps(bundle: Path) -> str:
    """Run dpkg-shlibdeps over the bundle; return the comma-separated dependency list."""
    files = elf_files(bundle.resolve())
    private_dirs = sorted({str(f.parent) for f in files} | {str(bundle.resolve() / "_internal")})
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "debian").mkdir()
        (Path(scratch) / "debian" / "control").write_text(CONTROL)
        command = [
            "dpkg-shlibdeps", "-O", "--ignore-missing-info", "--warnings=1",
            *(f"-l{d}" for d in private_dirs),
            *(f"-e{f}" for f in files),
        ]  # fmt: skip
        result = subprocess.run(command, cwd=scratch, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(
            "deb_depends: dpkg-shlibdeps failed; install the packages that provide the "
            "libraries named above on the build machine (see packaging/README.md)"
        )
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        if key == "shlibs:Depends":
            return value.strip()
    raise SystemExit("deb_depends: dpkg-shlibdeps printed no shlibs:Depends line")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the PyInstaller one-folder output")
    args = parser.parse_args(argv)
    print(shlibdeps(args.bundle))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
