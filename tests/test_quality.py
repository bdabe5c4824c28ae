"""Lint, format, types and the layer contracts run as part of the test command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON_TREES = ["ecgviewer", "tests", "benchmarks", "packaging"]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )


def trees() -> list[str]:
    return [tree for tree in PYTHON_TREES if (REPO / tree).exists()]


def test_ruff_lint() -> None:
    result = run(sys.executable, "-m", "ruff", "check", *trees())
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run(sys.executable, "-m", "ruff", "format", "--check", *trees())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_no_untyped_defs() -> None:
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts() -> None:
    executable = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert executable, "import-linter is not installed (it is in the test extra)"
    result = run(executable, "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken" in result.stdout
