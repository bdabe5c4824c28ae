"""The wheel carries every package, the resources and the model manifest."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

from ecgviewer.core.paths import project_models_dir, resources_dir

REPO = Path(__file__).resolve().parents[2]


def test_every_package_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"]) - set(config["package-dir"])
    assert listed == set(find_packages(str(REPO), include=["ecgviewer*"]))


def test_resources_and_manifest_are_found() -> None:
    for needed in ("samples/sample-ecg.png", "styles/app.qss", "fonts/DejaVuSans.ttf"):
        assert (resources_dir() / needed).is_file(), needed
    assert (project_models_dir() / "manifest.json").is_file()
