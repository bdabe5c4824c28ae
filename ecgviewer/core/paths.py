"""Per-user paths, from one place.

All folders come from platformdirs, unless the environment variable
`ECGVIEWER_HOME` is set: then every folder lives below it (tests use this with
a temporary folder). Nothing here is computed at import time.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "ECGViewer"
HOME_ENV = "ECGVIEWER_HOME"


@dataclass(frozen=True)
class AppPaths:
    """The folders ECG Viewer reads and writes for the current user."""

    config_dir: Path
    data_dir: Path
    cache_dir: Path
    log_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def user_models_dir(self) -> Path:
        """Where a user may drop GGUF files besides the project's models/ folder."""
        return self.data_dir / "models"

    @property
    def database_file(self) -> Path:
        return self.data_dir / "cases.sqlite3"

    @property
    def blob_dir(self) -> Path:
        """Content-addressed copies of opened scans (case history)."""
        return self.data_dir / "scans"

    @property
    def hash_cache_file(self) -> Path:
        return self.cache_dir / "sha256-cache.json"

    @property
    def encode_times_file(self) -> Path:
        """How long the last image read took per model pair (for the countdown)."""
        return self.cache_dir / "encode-times.json"

    @property
    def user_manifest_file(self) -> Path:
        """Pairs imported on this computer (models/manifest.json's format)."""
        return self.user_models_dir / "manifest.json"

    @property
    def safe_configs_file(self) -> Path:
        """Model pairs that crashed the engine here and now load in the safe configuration."""
        return self.config_dir / "engine-safe-settings.json"

    @property
    def log_file(self) -> Path:
        """The log the app and its inference worker write (see logsetup.py)."""
        return self.log_dir / "ecgviewer.log"

    @property
    def prefix_cache_dir(self) -> Path:
        """Saved llama.cpp prefix states; never inside the case database."""
        return self.cache_dir / "prefix-states"

    def ensure(self) -> AppPaths:
        """Create the folders, readable by the user only where the OS allows."""
        for folder in (self.config_dir, self.data_dir, self.cache_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
            _restrict(folder)
        return self


def _restrict(folder: Path) -> None:
    with contextlib.suppress(OSError):  # e.g. a read-only or foreign file system
        folder.chmod(0o700)


def app_paths() -> AppPaths:
    """Return the paths for this process, honouring `ECGVIEWER_HOME`."""
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        root = Path(home).expanduser().resolve()
        return AppPaths(
            config_dir=root / "config",
            data_dir=root / "data",
            cache_dir=root / "cache",
            log_dir=root / "logs",
        )
    import platformdirs

    return AppPaths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )


def project_models_dir() -> Path:
    """The project's `models/` folder: inside the package when installed, else the checkout's."""
    installed = Path(__file__).resolve().parents[1] / "models"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "models"


def resources_dir() -> Path:
    """The `resources/` folder shipped with the app (icons, fonts, styles)."""
    bundled = Path(__file__).resolve().parents[1] / "resources"
    if bundled.is_dir():  # installed wheel / frozen app: resources inside the package
        return bundled
    return Path(__file__).resolve().parents[2] / "resources"
