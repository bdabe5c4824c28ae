"""One streamed chat completion from an inference server, read on a thread of its own.

The HTTP request and its server-sent events (httpx + httpx-sse) are read on a
short-lived reader thread that puts each parsed JSON chunk in a queue. The
caller's thread (the model thread) takes them out, polling every 50 ms, so
that Stop (a flag) and the step timeouts (first token, between tokens) act at
once even while the server is silent: reading one socket cannot be given a new
timeout mid-stream, and a blocked read cannot see a flag.

Closing the stream shuts its socket down, which wakes the reader and tells the
server the client has gone (llama.cpp's servers then stop generating). Chunks
that arrive after that are dropped with the stream.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from ecgviewer.core.inference.server_config import ServerConfig, ServerConfigError, redacted
from ecgviewer.core.inference.server_errors import (
    ServerError,
    not_openai,
    status_error,
    timeout_error,
    transport_error,
)

POLL_SECONDS = 0.05
_CHUNK, _DONE, _END, _ERROR = "chunk", "done", "end", "error"


class ChatStream:
    """A POST to /v1/chat/completions with `stream: true`; see the module docstring.

    `chunks()` runs on the caller's thread; `close()` may be called from any thread.
    """

    def __init__(self, client: httpx.Client, config: ServerConfig, body: dict[str, Any]) -> None:
        self._client = client
        self._config = config
        self._body = body
        self._items: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._response: httpx.Response | None = None
        self._closed = threading.Event()
        self.saw_done = False  # the server ended the stream with its [DONE] line
        self._thread = threading.Thread(target=self._read, name="server-stream", daemon=True)
        self._thread.start()

    @property
    def where(self) -> str:
        return redacted(self._config.url)

    def chunks(self, cancelled: Callable[[], bool]) -> Iterator[dict[str, Any]]:
        """Each JSON chunk as it arrives; returns at the stream's end or when `cancelled()`
        turns true (the stream is then closed). Raises `ServerError` (timeouts name the step)."""
        first = True
        limit = self._config.first_token_timeout_s
        deadline = time.monotonic() + limit
        while not cancelled():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise timeout_error(self.where, first_token=first, seconds=limit)
            try:
                kind, value = self._items.get(timeout=min(POLL_SECONDS, remaining))
            except queue.Empty:
                continue
            if kind == _CHUNK:
                yield value
                first, limit = False, self._config.between_tokens_timeout_s
                deadline = time.monotonic() + limit
            elif kind == _ERROR:
                raise value
            else:
                self.saw_done = kind == _DONE
                return
        self.close()

    def close(self) -> None:
        """Any thread: stop reading and hang up (shutting the socket wakes a blocked read)."""
        if self._closed.is_set():
            return
        self._closed.set()
        response = self._response
        if response is None:
            return
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # already closed by the other side
                sock.shutdown(socket.SHUT_RDWR)

    # -- the reader thread ----------------------------------------------------------
    def _read(self) -> None:
        step = "connect"
        try:
            with connect_sse(self._client, "POST", "/v1/chat/completions", json=self._body,
                             headers=auth_headers(self._config)) as source:  # fmt: skip
                self._response = source.response
                step = "answer"
                if self._closed.is_set() or not self._accepted(source.response):
                    return
                for event in source.iter_sse():
                    if self._closed.is_set() or not self._take(event.data):
                        return
            self._items.put((_END, None))
        except httpx.TransportError as error:
            if not self._closed.is_set():
                self._items.put((_ERROR, transport_error(error, self._config.url, step)))
        except SSEError as error:
            self._items.put((_ERROR, not_openai(self.where, f"not an event stream: {error}")))
        except Exception as error:  # the caller must hear of it, never hang
            self._items.put((_ERROR, ServerError(
                f"Reading the answer from {self.where} failed ({type(error).__name__}).",
                reason="network")))  # fmt: skip

    def _accepted(self, response: httpx.Response) -> bool:
        """An HTTP error status becomes its `ServerError`; False then."""
        if response.status_code == 200:
            return True
        body = response.read().decode("utf-8", errors="replace")[:4000]
        key_sent = bool(self._config.api_key)
        error = status_error(response.status_code, body, self._config.url, key_sent=key_sent)
        self._items.put((_ERROR, error))
        return False

    def _take(self, data: str) -> bool:
        """Queue one event's data; False at the end ([DONE], or an error event)."""
        if data.strip() == "[DONE]":
            self._items.put((_DONE, None))
            return False
        if not data.strip():
            return True
        try:
            chunk = json.loads(data)
        except ValueError:
            self._items.put((_ERROR, not_openai(self.where, "an event was not JSON")))
            return False
        if not isinstance(chunk, dict) or "error" in chunk:
            said = json.dumps(chunk.get("error")) if isinstance(chunk, dict) else data
            self._items.put((_ERROR, status_error(500, said, self._config.url, key_sent=True)))
            return False
        self._items.put((_CHUNK, chunk))
        return True


def auth_headers(config: ServerConfig) -> dict[str, str]:
    """The bearer token, when a key is set (never logged)."""
    return {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}


def make_client(config: ServerConfig) -> httpx.Client:
    """An httpx client for `config`: its base URL, certificate checks and step timeouts.

    The read timeout is only a backstop: the stream's own deadlines (above)
    say which step was too slow.
    """
    verify: bool | ssl.SSLContext = config.verify_tls
    if config.verify_tls and config.ca_bundle:
        try:
            verify = ssl.create_default_context(cafile=config.ca_bundle)
        except (OSError, ssl.SSLError) as error:
            raise ServerConfigError(
                f"The CA bundle {config.ca_bundle} could not be read as PEM certificates.",
                hint="Choose the PEM file your IT department gave you.",
            ) from error
    timeout = httpx.Timeout(
        connect=config.connect_timeout_s, read=config.first_token_timeout_s + 30.0,
        write=60.0, pool=config.connect_timeout_s,
    )  # fmt: skip
    return httpx.Client(base_url=config.url, verify=verify, timeout=timeout,
                        trust_env=False, follow_redirects=False)  # fmt: skip
