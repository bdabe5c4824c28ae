"""The core is Qt-free: every core module imports with PySide6 made unimportable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BLOCK_QT_AND_IMPORT_ALL = """
import sys, pkgutil, importlib
for name in ("PySide6", "shiboken6", "pytestqt"):
    sys.modules[name] = None  # any `import PySide6...` now raises ImportError
import ecgviewer.core
failed = []
count = 0
for info in pkgutil.walk_packages(ecgviewer.core.__path__, "ecgviewer.core."):
    count += 1
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed.append(f"{info.name}: {exc!r}")
print(count)
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_core_module_imports_without_qt() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_QT_AND_IMPORT_ALL],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert int(result.stdout.split()[0]) >= 20  # really walked the package


def test_the_documented_one_liner_works() -> None:
    code = "import sys; sys.modules['PySide6']=None; import ecgviewer.core"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_core_tests_import_no_qt() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "tests" / "core").rglob("*.py")
        if any(
            line.lstrip().startswith(("import PySide6", "from PySide6", "import pytestqt"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
