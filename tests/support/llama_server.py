"""A real OpenAI-compatible inference server for the server-backend tests.

`start_server()` runs llama-cpp-python's own server (`python -m llama_cpp.server
--model TEXT --clip_model_path MMPROJ --chat_format mtmd`) on a free loopback
port with the quiet templated test pair, waits until `/v1/models` answers
(polled against a deadline, never a fixed sleep), and `stop()` ends it.

It is started through this module's launcher (`python -m tests.support.llama_server
ARGS`), which turns llama.cpp's extra buffer types off before the server loads
the model: on an Intel AMX CPU their AMX path segfaults on Q4_K weights
(llama.cpp issue 20824) and the server has no switch for it.

Settings match the local runtime's test settings where they change numerics
(flash attention on, batch 256, context 1024; docs/runtime.md). The server is
started with `--interrupt_requests false`: by default llama_cpp.server ends a
streaming answer early (a bare [DONE]) as soon as another request waits.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import models

REPO = Path(__file__).resolve().parents[2]
API_KEY = "test-key-7f3a"
N_CTX = 1024


@dataclass
class LlamaServer:
    """A running server: its URL, key, files and process."""

    url: str
    api_key: str
    text: Path
    mmproj: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def model_id(self) -> str:
        """llama_cpp.server serves a model under its path (no --model_alias given)."""
        return str(self.text)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(log_dir: Path, *, api_key: str = API_KEY, deadline_s: float = 180.0,
                 extra: tuple[str, ...] = ()) -> LlamaServer:  # fmt: skip
    """Start the server with the quiet pair and wait until it lists its model."""
    text, mmproj = models.templated_text_model_path(), models.quiet_projector_path()
    port = free_port()
    args = [
        "--model", str(text), "--clip_model_path", str(mmproj), "--chat_format", "mtmd",
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX),
        "--n_batch", "256", "--n_ubatch", "256", "--flash_attn", "true", "--n_threads", "2",
        "--n_threads_batch", "2", "--interrupt_requests", "false", "--verbose", "false", *extra,
    ]  # fmt: skip
    if api_key:
        args += ["--api_key", api_key]
    log = log_dir / f"llama-server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.llama_server", *args],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = LlamaServer(f"http://127.0.0.1:{port}", api_key, text, mmproj, process, log)
    try:
        _wait_until_ready(server, deadline_s)
    except BaseException:
        stop(server)
        raise
    return server


def _wait_until_ready(server: LlamaServer, deadline_s: float) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited ({server.process.returncode}): "
                               f"{server.log.read_text(errors='replace')[-2000:]}")  # fmt: skip
        try:
            if httpx.get(server.url + "/v1/models", headers=headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # a poll interval under a deadline, not a wait for readiness
    raise TimeoutError(f"the server did not answer within {deadline_s:.0f} s")


def stop(server: LlamaServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=15)


@contextmanager
def running_server(log_dir: Path, **options: object) -> Iterator[LlamaServer]:
    server = start_server(log_dir, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        stop(server)


def _launch() -> None:
    """Start llama_cpp.server with llama.cpp's extra buffer types off (AMX, see above)."""
    import runpy

    import llama_cpp.llama_cpp as native

    default_params = native.llama_model_default_params

    def without_extra_buffers():  # type: ignore[no-untyped-def]
        params = default_params()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = without_extra_buffers
    sys.argv = ["llama_cpp.server", *sys.argv[1:]]
    os.environ.pop("ECGVIEWER_SERVER_KEY", None)
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _launch()
