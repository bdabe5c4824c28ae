"""Inference server settings: URL rules, what provenance may record, where the key comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecgviewer.core.inference.server_config import (
    KEY_ENV,
    ServerConfig,
    ServerConfigError,
    check_server_url,
    key_store_problem,
    redacted,
    server_config,
    server_key,
    store_server_key,
)
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import ServerSettings, Settings, load_settings, save_settings


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://gpu-01.cardio.local:8443/", "https://gpu-01.cardio.local:8443"),
        ("https://GPU-01.example.org/llm/v1", "https://gpu-01.example.org/llm"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]:8080/v1/", "http://[::1]:8080"),
        ("http://localhost:9000", "http://localhost:9000"),
    ],
)
def test_accepted_urls_are_stored_without_v1(url: str, stored: str) -> None:
    assert check_server_url(url) == stored


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://gpu-01.cardio.local:8080", "must be reached over HTTPS"),
        ("http://10.0.0.5", "must be reached over HTTPS"),
        ("https://user:secret@gpu-01.cardio.local", "must not contain a user name"),
        ("gpu-01.cardio.local", "is not a server address"),
        ("ftp://gpu-01", "is not a server address"),
    ],
)
def test_refused_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ServerConfigError, match=message):
        check_server_url(url)


def test_provenance_url_has_no_credentials_query_or_fragment() -> None:
    assert redacted("https://u:p@Host.org:8443/llm?token=x#f") == "https://host.org:8443/llm"


def test_the_key_is_never_in_repr_nor_in_the_settings_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-secret-123")
    paths = app_paths().ensure()
    settings = Settings(server=ServerSettings(url="https://gpu-01.cardio.local"))
    save_settings(paths, settings)
    config = server_config(load_settings(paths).server)
    assert config.api_key == "sk-secret-123"
    assert "sk-secret" not in repr(config)
    assert "sk-secret" not in paths.settings_file.read_text()
    assert json.loads(paths.settings_file.read_text())["server"] == {
        "url": "https://gpu-01.cardio.local",
        "verify_tls": True,
        "ca_bundle": "",
    }


def test_without_a_credential_store_the_environment_variable_is_the_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert key_store_problem() == "No credential store is available on this computer."
    assert server_key("https://gpu-01.cardio.local") == ""
    with pytest.raises(ServerConfigError, match=KEY_ENV):
        store_server_key("https://gpu-01.cardio.local", "sk-secret")


def test_a_missing_ca_bundle_is_named(tmp_path: Path) -> None:
    stored = ServerSettings(url="https://gpu-01.cardio.local", ca_bundle=str(tmp_path / "no.pem"))
    with pytest.raises(ServerConfigError, match="does not exist"):
        server_config(stored, api_key="")


def test_loopback_is_recognised() -> None:
    assert ServerConfig("http://127.0.0.2:1").loopback
    assert not ServerConfig("https://gpu-01:1").loopback
