"""User settings: one typed, documented declaration with defaults.

Stored as JSON in the per-user config folder with a schema version. Qt's
QSettings is used only for window geometry, never for these.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ecgviewer.core.atomic import describe_os_error, write_text_atomically
from ecgviewer.core.paths import AppPaths

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


def physical_cores() -> int:
    """Best guess at the physical core count (llama.cpp runs best with one thread per core)."""
    logical = os.cpu_count() or 1
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            cores = {line.split(":", 1)[1].strip() for line in handle if line.startswith("core id")}
        if cores:
            return max(1, min(logical, len(cores)))
    except OSError:
        pass
    return max(1, logical)


@dataclass
class ModelSettings:
    """How the local model is loaded and decoded (defaults follow the model card)."""

    text_path: str = ""  # text GGUF chosen by the user ("" = look in the models folders)
    mmproj_path: str = ""  # matching vision projector GGUF
    n_ctx: int = 4096  # context length in tokens
    n_threads: int = 0  # 0 = one per physical core
    n_gpu_layers: int = 0  # layers offloaded to a GPU; 0 = plain CPU
    flash_attn: bool = True  # measured: ~40 % faster image encoding, ~1 GB less memory
    use_mmap: bool = True  # map the weights file (see docs/performance.md, memory)
    repack_weights: bool = False  # llama.cpp's CPU weight repacking (see docs/performance.md)
    prefix_cache_mb: int = 2048  # bounded on-disk cache of prepared image states; 0 = none
    max_tokens: int = 512  # new tokens per answer
    temperature: float = 0.0  # greedy, as in the model card
    seed: int = 42  # fixed, so a reading can be reproduced

    def threads(self) -> int:
        return self.n_threads if self.n_threads > 0 else physical_cores()


@dataclass
class ServerSettings:
    """An inference server to read on instead of the local model (issue 20).

    Empty `url` = none: everything runs on this computer and nothing opens a
    connection. The API key is never stored here (inference/server_config.py).
    """

    url: str = ""  # https://HOST[:PORT][/prefix]; plain http only for loopback addresses
    verify_tls: bool = True  # check the server's certificate
    ca_bundle: str = ""  # PEM file of a hospital's own certificate authority ("" = system's)


@dataclass
class Settings:
    """Everything the user can set, with its defaults."""

    schema_version: int = SCHEMA_VERSION
    model: ModelSettings = field(default_factory=ModelSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    page_size: str = "auto"  # report paper: "auto" (from locale), "A4" or "Letter"
    disclaimer_acknowledged: bool = False  # first-run research-only dialog
    recent_files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        """Build settings from stored JSON, ignoring unknown keys and bad types."""
        model_data = data.get("model", {})
        # prefix_cache_mb was top-level before it moved into ModelSettings; the next
        # save writes it in its new place only, so no schema version is needed
        if isinstance(model_data, dict) and "prefix_cache_mb" in data:
            model_data = {"prefix_cache_mb": data["prefix_cache_mb"], **model_data}
        model = ModelSettings(**_known(ModelSettings, model_data))
        server = ServerSettings(**_known(ServerSettings, data.get("server", {})))
        top = _known(cls, data)
        top.pop("model", None)
        top.pop("server", None)
        return cls(model=model, server=server, **top)


def _known(kind: type, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    defaults = kind()
    result: dict[str, Any] = {}
    for spec in fields(kind):
        if spec.name in data and spec.name not in ("model", "server"):
            value = data[spec.name]
            expected = type(getattr(defaults, spec.name))
            if isinstance(value, expected) or (expected is float and isinstance(value, int)):
                result[spec.name] = value
    return result


def load_settings(paths: AppPaths) -> Settings:
    """Read the settings file; a missing or damaged file gives the defaults."""
    file = paths.settings_file
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings file unreadable, using defaults: %s", type(exc).__name__)
        return Settings()
    return Settings.from_json(data)


def save_settings(paths: AppPaths, settings: Settings) -> None:
    """Write the settings atomically; `StorageError` says why when they cannot be."""
    file = paths.settings_file
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise describe_os_error(error, file, what="the settings") from error
    text = json.dumps(settings.to_json(), indent=2)
    write_text_atomically(text, file, what="the settings")
