"""Which model a server serves, and what that means for every answer's provenance.

On connect the backend asks `/v1/models` (every OpenAI-compatible server) and
llama-server's `/props` (the model file's path, the context size and whether
it accepts images). The served id, or the file name of its path, is looked up
in models/manifest.json and the per-user import manifest: a pair listed there
gives its name, its two SHA-256 digests (as listed: the files on the server
cannot be hashed from here) and whether it is an ECG model. Anything else is
an unknown model, and counts as an ECG model only when its name says so (the
same rule as a local pair). Runs on the model thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import httpx

from ecgviewer.core.case import ModelIdentity, Provenance
from ecgviewer.core.inference.integrity import KnownPair
from ecgviewer.core.inference.loaded import is_ecg_model_name
from ecgviewer.core.inference.remote_stream import auth_headers
from ecgviewer.core.inference.server_config import ServerConfig, redacted
from ecgviewer.core.inference.server_errors import (
    ServerError,
    not_openai,
    status_error,
    text_only_error,
    transport_error,
)

UNKNOWN = "unknown"


@dataclass(frozen=True)
class ServedModel:
    """What the server said about itself."""

    model_id: str  # the id to send back in requests
    model_path: str = ""  # llama-server's /props model_path ("" when not told)
    n_ctx: int = 0  # 0 = not told
    vision: bool | None = None  # None = not told

    @property
    def file_name(self) -> str:
        """The model file's name, from /props or from an id that is a path."""
        source = self.model_path or self.model_id
        return PureWindowsPath(PurePosixPath(source).name).name


def ask_served_model(client: httpx.Client, config: ServerConfig) -> ServedModel:
    """GET /v1/models (required) and /props (llama-server only; anything else is ignored)."""
    data = _get_json(client, config, "/v1/models", required=True)
    models = data.get("data") if isinstance(data, dict) else None
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise not_openai(redacted(config.url), "/v1/models did not list models")
    ids = [str(m.get("id", "")) for m in models if m.get("id")]
    if not ids:
        raise ServerError(f"{redacted(config.url)} serves no model.", reason="no_model",
                          hint="Load a model on the server first.")  # fmt: skip
    props = _get_json(client, config, "/props", required=False)
    served = _with_props(ServedModel(ids[0]), props)
    if served.vision is False:
        raise text_only_error(redacted(config.url), "/props: no vision modality")
    return served


def _with_props(served: ServedModel, props: Any) -> ServedModel:
    if not isinstance(props, dict):
        return served
    settings = props.get("default_generation_settings")
    n_ctx = settings.get("n_ctx", 0) if isinstance(settings, dict) else 0
    modalities = props.get("modalities")
    vision = modalities.get("vision") if isinstance(modalities, dict) else None
    return ServedModel(
        served.model_id, str(props.get("model_path", "") or ""),
        int(n_ctx) if isinstance(n_ctx, int) else 0,
        bool(vision) if isinstance(vision, bool) else None,
    )  # fmt: skip


def _get_json(client: httpx.Client, config: ServerConfig, path: str, *, required: bool) -> Any:
    try:
        response = client.get(path, headers=auth_headers(config))
    except httpx.TransportError as error:
        if not required:
            return None
        raise transport_error(error, config.url, "models") from error
    if response.status_code != 200:
        if not required and response.status_code not in (401, 403):
            return None
        key_sent = bool(config.api_key)
        raise status_error(response.status_code, response.text, config.url, key_sent=key_sent)
    try:
        return response.json()
    except ValueError as error:
        if not required:
            return None
        raise not_openai(redacted(config.url), f"{path} did not answer JSON") from error


def served_provenance(
    config: ServerConfig, served: ServedModel, known_pairs: list[KnownPair]
) -> Provenance:
    """The provenance every answer from this server records (server URL without credentials)."""
    known = _match(served, known_pairs)
    if known is not None:
        model = ModelIdentity(served.model_path or served.model_id, known.text_sha256,
                              "gemma3", known.quantization)  # fmt: skip
        mmproj = ModelIdentity(known.mmproj_file, known.mmproj_sha256, "clip")
        ecg = known.ecg_model
    else:
        model = ModelIdentity(served.model_path or served.model_id, UNKNOWN)
        mmproj = ModelIdentity("", UNKNOWN, "clip")
        ecg = is_ecg_model_name(served.file_name)  # a folder name says nothing
    return Provenance(
        model=model, mmproj=mmproj, known_pair=known.name if known else "",
        is_ecg_model=ecg, server_url=redacted(config.url), served_model=served.model_id,
    )  # fmt: skip


def _match(served: ServedModel, known_pairs: list[KnownPair]) -> KnownPair | None:
    """A listed pair whose text file name (or name) is the served id or file name."""
    names = {served.model_id, served.file_name}
    for pair in known_pairs:
        if pair.text_file in names or pair.name in names:
            return pair
    return None
