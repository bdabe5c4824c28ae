"""The small real model pair (Gemma 3 270M + a tiny random projector) for llama.cpp tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from ecgviewer.core.imaging.synthetic import render
from ecgviewer.core.inference.runtime import ModelRuntime
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import ModelSettings
from ecgviewer.core.workspace import png_bytes
from tests.support import models


@pytest.fixture(scope="session")
def text_model() -> Path:
    return models.text_model_path()


@pytest.fixture(scope="session")
def mmproj() -> Path:
    return models.projector_path()


def small_settings(**changes: object) -> ModelSettings:
    """Settings for fast tests: short context, short answers, two threads."""
    settings = ModelSettings(n_ctx=1024, max_tokens=24, n_threads=2)
    for key, value in changes.items():
        setattr(settings, key, value)
    return settings


def png_of(image: Image.Image) -> bytes:
    """Encoded as the app encodes the model input."""
    return png_bytes(image)


@pytest.fixture(scope="session")
def ecg_png() -> bytes:
    return png_of(render(width_px=896).image.resize((896, 896)))


@pytest.fixture(scope="session")
def other_png() -> bytes:
    return png_of(Image.new("RGB", (896, 896), (250, 200, 200)))


@pytest.fixture
def runtime(text_model: Path, mmproj: Path) -> Iterator[ModelRuntime]:
    """A loaded runtime; its worker is shut down after the test."""
    engine = ModelRuntime(app_paths().ensure())
    engine.load(text_model, mmproj, small_settings())
    yield engine
    engine.close()
