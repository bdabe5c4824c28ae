"""What went wrong talking to an inference server, in words a clinician can act on.

Every failure of the server backend is a `ServerError` (a `ModelError`, so the
CLI exits 3 and the window's one presenter shows it) with a `reason` code that
tests and the GUI can branch on. The technical cause stays in `__cause__`.
Pure functions, any thread.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator

import httpx

from ecgviewer.core.errors import ModelError
from ecgviewer.core.inference.server_config import KEY_ENV, redacted

IMAGE_WORDS = ("image", "mmproj", "multimodal", "vision", "clip")


class ServerError(ModelError):
    """The inference server could not be reached or did not answer as expected.

    `reason`: refused, dns, tls, connect_timeout, unauthorized, forbidden,
    not_found, text_only, not_openai, cut, first_token_timeout,
    between_tokens_timeout, server_error, network, no_model.
    """

    title = "Inference server problem"

    def __init__(self, message: str, *, reason: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def transport_error(error: httpx.TransportError, url: str, step: str) -> ServerError:
    """A request that never got an HTTP answer (or lost it): say which kind, and where."""
    where = redacted(url)
    chain = list(_causes(error))
    text = " ".join(str(item) for item in chain)
    if isinstance(error, httpx.ConnectTimeout):
        return ServerError(f"Connecting to {where} timed out.", reason="connect_timeout",
                           hint="The server may be down or a firewall may drop the "
                           "connection; check the address.")  # fmt: skip
    if any(isinstance(item, ssl.SSLError) for item in chain) or "SSL" in text:
        return ServerError(
            f"The secure connection to {where} failed: its certificate could not be verified.",
            reason="tls", hint="If the hospital uses its own certificate authority, choose its "
            "CA bundle in Settings > Inference server.",
        )  # fmt: skip
    if any(isinstance(item, socket.gaierror) for item in chain) or "Name or service" in text:
        return ServerError(f"The server name in {where} could not be found (DNS).",
                           reason="dns", hint="Check the spelling of the address and the "
                           "network connection.")  # fmt: skip
    if any(isinstance(item, ConnectionRefusedError) for item in chain) or "refused" in text:
        return ServerError(f"{where} refused the connection: no server is listening there.",
                           reason="refused", hint="Check the port, and that the inference "
                           "server is running.")  # fmt: skip
    if isinstance(error, httpx.ReadError | httpx.RemoteProtocolError) and step == "answer":
        return stream_cut(where)
    return ServerError(f"The connection to {where} failed while {step_words(step)}.",
                       reason="network", hint=f"({type(error).__name__})")  # fmt: skip


def stream_cut(where: str) -> ServerError:
    return ServerError(
        f"The connection to {where} was cut in the middle of the answer.",
        reason="cut", hint="The partial answer is kept, marked incomplete. Ask again when the "
        "server is back.",
    )  # fmt: skip


def step_words(step: str) -> str:
    return {"models": "asking which model it serves", "answer": "reading the answer"}.get(
        step, step
    )


def timeout_error(where: str, *, first_token: bool, seconds: float) -> ServerError:
    """The stream was silent too long; the message names the step that timed out."""
    if first_token:
        return ServerError(
            f"{where} sent no answer within {seconds:.0f} s of receiving the image and question.",
            reason="first_token_timeout",
            hint="The server may be overloaded or still reading the image; try again later.",
        )
    return ServerError(
        f"{where} stopped sending the answer for {seconds:.0f} s.",
        reason="between_tokens_timeout", hint="The partial answer is kept, marked incomplete.",
    )  # fmt: skip


def status_error(status: int, body: str, url: str, *, key_sent: bool) -> ServerError:
    """An HTTP error status, explained (the server's own message is quoted, shortened)."""
    where = redacted(url)
    said = server_message(body)
    if status == 401:
        if key_sent:
            return ServerError(f"{where} refused the API key (401).", reason="unauthorized",
                               hint="Enter the right key in Settings > Inference server, or "
                               f"in {KEY_ENV}.")  # fmt: skip
        return ServerError(
            f"{where} needs an API key (401).",
            reason="unauthorized",
            hint=f"Enter it in Settings > Inference server, or set {KEY_ENV}.",
        )
    if status == 403:
        return ServerError(f"{where} refused access (403).", reason="forbidden",
                           hint="The key is valid but not allowed to use this server; ask "
                           "its administrator.")  # fmt: skip
    if status == 404:
        return ServerError(f"Nothing answers at {where} (404).", reason="not_found",
                           hint="Check the address: it should end at the server (or its "
                           "prefix), for example https://host:8443.")  # fmt: skip
    if status in (400, 422, 500, 501) and any(word in said.lower() for word in IMAGE_WORDS):
        return text_only_error(redacted(url), said)
    return ServerError(f"{where} answered with an error ({status}): {said or 'no details'}.",
                       reason="server_error")  # fmt: skip


def text_only_error(where: str, said: str = "") -> ServerError:
    quoted = f' It said: "{said}".' if said else ""
    return ServerError(
        f"The model served at {where} does not accept images.{quoted}",
        reason="text_only", hint="The server must be started with the vision projector "
        "(llama-server --mmproj, llama_cpp.server --clip_model_path).",
    )  # fmt: skip


def not_openai(where: str, what: str) -> ServerError:
    return ServerError(
        f"{where} is not an OpenAI-compatible inference server ({what}).", reason="not_openai",
        hint="ECG Viewer needs /v1/models and /v1/chat/completions, as llama-server and "
        "vLLM provide.",
    )  # fmt: skip


def server_message(body: str) -> str:
    """The error text inside an OpenAI- or FastAPI-style error body, at most 200 characters."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:200]
    if isinstance(data, dict):
        inner = data.get("error", data.get("detail", data.get("message", "")))
        if isinstance(inner, dict):
            inner = inner.get("message", "")
        return str(inner)[:200]
    return ""
