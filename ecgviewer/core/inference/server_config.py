"""Where an inference server is and how to reach it: URL rules, certificate and API key.

Plain functions and data, no Qt, no network. The URL, "verify the certificate"
and the CA bundle are stored in the settings file (`settings.ServerSettings`);
the API key never is: it lives in the operating system's credential store
(`keyring`), or, where there is none (a headless Linux machine has no Secret
Service), in the `ECGVIEWER_SERVER_KEY` environment variable. The key is never
logged, and `ServerConfig`'s repr hides it.

HTTPS is required except for loopback addresses (127.0.0.0/8, ::1, localhost),
because the model input image and the questions travel to the server.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ecgviewer.core.errors import InputError
from ecgviewer.core.settings import ServerSettings

log = logging.getLogger(__name__)

KEY_ENV = "ECGVIEWER_SERVER_KEY"
KEYRING_SERVICE = "ECG Viewer inference server"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class ServerConfigError(InputError):
    """The server settings cannot be used as given (a bad URL, no credential store, ...)."""

    title = "Inference server settings"


@dataclass(frozen=True)
class ServerConfig:
    """Everything needed to talk to one server. `api_key` is never printed (see repr)."""

    url: str  # checked by `check_server_url`: scheme://host[:port][/prefix], no credentials
    api_key: str = field(default="", repr=False)
    verify_tls: bool = True
    ca_bundle: str = ""  # a PEM file for a hospital's own certificate authority
    connect_timeout_s: float = 10.0
    first_token_timeout_s: float = 600.0  # the server reads the image and the prompt first
    between_tokens_timeout_s: float = 120.0

    @property
    def host(self) -> str:
        """The host name, for "Reading on HOST"."""
        return urlsplit(self.url).hostname or self.url

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: the only hosts plain http is allowed for."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_server_url(url: str) -> str:
    """The URL in its stored form, or `ServerConfigError` saying what is wrong with it.

    A trailing "/v1" (as OpenAI client settings are often written) is dropped:
    the client adds "/v1/..." itself.
    """
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServerConfigError(
            f"'{text}' is not a server address.",
            hint="Write it as https://HOST[:PORT], for example https://gpu-01.cardio.local:8443.",
        )
    if parts.username or parts.password:
        raise ServerConfigError(
            "The server address must not contain a user name or password.",
            hint="Enter the API key in its own field; it is kept in the credential store.",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ServerConfigError(
            f"{parts.hostname} must be reached over HTTPS.",
            hint="The ECG image and the questions travel to the server; plain http is allowed "
            "only for this computer (127.0.0.1, ::1, localhost).",
        )
    path = parts.path.rstrip("/")
    path = path[: -len("/v1")] if path.endswith("/v1") else path
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, "", ""))


def redacted(url: str) -> str:
    """`url` without credentials, query or fragment: what provenance and logs may record."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def server_config(
    settings: ServerSettings, url: str | None = None, api_key: str | None = None
) -> ServerConfig:
    """The config to connect with: `url` (the CLI's --server) over the stored one.

    The key is `api_key` when given, else `server_key(url)`; "" when none is set
    (servers on this computer usually need none).
    """
    checked = check_server_url(url if url is not None else settings.url)
    ca_bundle = settings.ca_bundle.strip()
    if ca_bundle and not Path(ca_bundle).is_file():
        raise ServerConfigError(
            f"The CA bundle {ca_bundle} does not exist.",
            hint="Choose the PEM file your IT department gave you, or clear the field.",
        )
    key = api_key if api_key is not None else server_key(checked)
    return ServerConfig(checked, key, settings.verify_tls, ca_bundle)


# --- the API key --------------------------------------------------------------------


def key_store_problem() -> str:
    """Why the OS credential store cannot keep a key, for the user; "" when it can."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return "The keyring package is not installed."
    if isinstance(keyring.get_keyring(), fail.Keyring):
        return "No credential store is available on this computer."
    return ""


def server_key(url: str) -> str:
    """The API key for `url`: ECGVIEWER_SERVER_KEY when set, else the credential store's."""
    from_env = os.environ.get(KEY_ENV, "").strip()
    if from_env:
        return from_env
    if key_store_problem():
        return ""
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, check_server_url(url)) or ""
    except KeyringError as error:
        log.warning("credential store unreadable: %s", type(error).__name__)
        return ""


def store_server_key(url: str, key: str) -> None:
    """Keep `key` for `url` in the credential store ("" deletes it); never in the settings."""
    problem = key_store_problem()
    if problem:
        raise ServerConfigError(
            f"{problem} The API key cannot be saved.",
            hint=f"Set the environment variable {KEY_ENV} to the key before starting "
            "ECG Viewer instead.",
        )
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    account = check_server_url(url)
    try:
        if key:
            keyring.set_password(KEYRING_SERVICE, account, key)
        else:
            keyring.delete_password(KEYRING_SERVICE, account)
    except PasswordDeleteError:
        return  # nothing was stored: nothing to forget
    except KeyringError as error:
        raise ServerConfigError(
            "The credential store refused to save the API key.",
            hint=f"Unlock it and try again, or set {KEY_ENV} instead.",
        ) from error
