"""Reading on a real OpenAI-compatible server (llama_cpp.server with the quiet test pair).

The server is real (tests/support/llama_server.py); only the ECG Viewer side
is under test: the CLI's `--server`, the `RemoteRuntime` events, Stop, the
errors, and that nothing but the configured host is contacted.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ecgviewer.core.conversation import Conversation
from ecgviewer.core.inference.answering import ask
from ecgviewer.core.inference.client import Finished, TextDelta
from ecgviewer.core.inference.remote import RemoteRuntime
from ecgviewer.core.inference.runtime import ModelRuntime
from ecgviewer.core.inference.server_config import ServerConfig
from ecgviewer.core.inference.server_errors import ServerError
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import ModelSettings
from ecgviewer.core.workspace import open_case
from tests.support.llama_server import REPO, LlamaServer, running_server

pytestmark = pytest.mark.slow
MAX_TOKENS = 16
QUESTION = "What is the heart rate?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running


@pytest.fixture(scope="module")
def image_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A square image the quiet pair answers with words (newlines would always agree)."""
    path = tmp_path_factory.mktemp("image") / "scan.png"
    Image.new("RGB", (896, 896), (250, 200, 200)).save(path)
    return path


@pytest.fixture(scope="module")
def model_png(image_file: Path) -> bytes:
    """The exact model input `interpret --no-preprocess` sends."""
    return open_case(image_file, preprocess=False).model_png()


def settings() -> ModelSettings:
    return ModelSettings(n_ctx=1024, max_tokens=MAX_TOKENS, n_threads=2)


def remote(server: LlamaServer, key: str | None = None) -> RemoteRuntime:
    config = ServerConfig(server.url, server.api_key if key is None else key)
    return RemoteRuntime(config, app_paths().ensure(), settings())


def direct_answer(server: LlamaServer, png: bytes, turns: list[dict[str, Any]]) -> str:
    """The same question asked with a plain, non-streamed httpx request."""
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    first = turns[0]
    first["content"] = [{"type": "image_url", "image_url": {"url": url}},
                        {"type": "text", "text": first["content"]}]  # fmt: skip
    body = {"model": server.model_id, "messages": turns, "temperature": 0.0, "seed": 42,
            "max_tokens": MAX_TOKENS, "repeat_penalty": 1.0}  # fmt: skip
    response = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=600,
                          headers={"Authorization": f"Bearer {server.api_key}"})  # fmt: skip
    response.raise_for_status()
    return str(response.json()["choices"][0]["message"]["content"])


def cli(*args: str, key: str = "", extra_env: dict[str, str] | None = None,
        python_path: str = "") -> subprocess.CompletedProcess[str]:  # fmt: skip
    env = {**os.environ, "ECGVIEWER_SERVER_KEY": key, **(extra_env or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (python_path, str(REPO)) if p)
    return subprocess.run([sys.executable, "-m", "ecgviewer", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip


def test_cli_reading_equals_a_direct_request_and_names_server_and_model(
    server: LlamaServer, image_file: Path, model_png: bytes
) -> None:
    options = ["--json", "--no-preprocess", "--prompt", QUESTION, "--max-tokens", str(MAX_TOKENS)]
    run = cli("interpret", str(image_file), "--server", server.url, *options, key=server.api_key)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    expected = direct_answer(server, model_png, [{"role": "user", "content": QUESTION}])
    assert sum(c.isalpha() for c in expected) > 10, expected  # words, not newlines
    assert result["text"] == expected
    assert result["server"] == server.url
    assert result["served_model"] == server.model_id
    assert result["ecg_model"] is False  # the 270M model is not an ECG model
    assert "is not an ECG model" in run.stderr
    assert result["stop_reason"] == "length"
    assert result["timings"]["first_token_ms"] > 0


def test_follow_up_resends_the_conversation(server: LlamaServer, model_png: bytes) -> None:
    runtime = remote(server)
    runtime.connect()
    conversation = Conversation()
    first, _ = ask(runtime, conversation, model_png, QUESTION)
    second, _ = ask(runtime, conversation, model_png, "Describe the rhythm.")
    runtime.close()
    expected = direct_answer(server, model_png, [
        {"role": "user", "content": QUESTION}, {"role": "assistant", "content": first.answer},
        {"role": "user", "content": "Describe the rhythm."},
    ])  # fmt: skip
    assert second.answer == expected
    assert second.provenance is not None and second.provenance.server_url == server.url


def test_server_reading_equals_the_local_reading_with_matched_numerics(
    server: LlamaServer, model_png: bytes
) -> None:
    """Server: flash attention on, batch 256, repeat penalty 1.0 sent; local: the same."""
    runtime = remote(server)
    runtime.connect()
    on_server, _ = ask(runtime, Conversation(), model_png, QUESTION)
    runtime.close()
    local = ModelRuntime(app_paths().ensure())
    try:
        local.load(server.text, server.mmproj, settings())
        here, _ = ask(local, Conversation(), model_png, QUESTION)
    finally:
        local.close()
    assert on_server.answer == here.answer


def test_stop_mid_stream_keeps_the_partial_answer(server: LlamaServer, model_png: bytes) -> None:
    runtime = remote(server)
    runtime.connect()
    events = []
    for event in runtime.interpret(model_png, QUESTION, max_tokens=200):
        events.append(event)
        if isinstance(event, TextDelta):
            runtime.cancel()  # the flag: the stream ends before its next event is used
    last = events[-1]
    assert isinstance(last, Finished) and last.stop_reason == "cancelled"
    assert sum(isinstance(e, TextDelta) for e in events) == 1
    turn, finished = ask(runtime, Conversation(), model_png, QUESTION)  # the server goes on
    assert finished.stop_reason == "length" and turn.answer
    runtime.close()


def test_wrong_and_missing_keys_are_told_apart(server: LlamaServer, image_file: Path) -> None:
    with pytest.raises(ServerError, match="refused the API key") as wrong:
        remote(server, key="not-the-key").connect()
    assert wrong.value.reason == "unauthorized"
    with pytest.raises(ServerError, match="needs an API key"):
        remote(server, key="").connect()
    run = cli("interpret", str(image_file), "--server", server.url, "--no-preprocess",
              key="wrong")  # fmt: skip
    assert run.returncode == 3
    assert "refused the API key (401)" in run.stderr and "wrong" not in run.stderr


def test_refused_connection_and_wrong_path(server: LlamaServer, image_file: Path) -> None:
    from tests.support.llama_server import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    run = cli("interpret", str(image_file), "--server", closed, "--no-preprocess")
    assert run.returncode == 3
    assert "refused the connection" in run.stderr
    with pytest.raises(ServerError, match="404") as missing:
        RemoteRuntime(ServerConfig(server.url + "/nope", server.api_key), app_paths().ensure(),
                      settings()).connect()  # fmt: skip
    assert missing.value.reason == "not_found"


def test_plain_http_to_another_host_is_refused_before_any_connection(image_file: Path) -> None:
    run = cli("interpret", str(image_file), "--server", "http://gpu-01.cardio.local:8080")
    assert run.returncode == 2
    assert "must be reached over HTTPS" in run.stderr


GUARD = textwrap.dedent(
    """
    import os, socket, sys
    ALLOWED = os.environ.get("GUARD_ALLOW", "")
    LOG = os.environ["GUARD_LOG"]

    def guard(event, args):
        if event == "socket.connect":
            sock, address = args
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                target = f"{address[0]}:{address[1]}"
                with open(LOG, "a") as log:
                    log.write(target + "\\n")
                if target != ALLOWED:
                    raise ConnectionRefusedError(f"blocked by the test: {target}")
        elif event == "socket.getaddrinfo" and args[0] not in ("127.0.0.1", None):
            with open(LOG, "a") as log:
                log.write(f"dns:{args[0]}\\n")

    sys.addaudithook(guard)
    """
)


def guarded(tmp_path: Path, allow: str) -> tuple[str, dict[str, str], Path]:
    """A sitecustomize that blocks and logs every IP connection but `allow`, in every
    process it starts (the local worker too)."""
    folder = tmp_path / "guard"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "contacted.txt"
    log.write_text("")
    return str(folder), {"GUARD_ALLOW": allow, "GUARD_LOG": str(log)}, log


def test_with_other_sockets_blocked_a_remote_reading_works_and_contacts_only_the_server(
    server: LlamaServer, image_file: Path, tmp_path: Path
) -> None:
    host = server.url.removeprefix("http://")
    folder, env, log = guarded(tmp_path, host)
    options = ["--json", "--no-preprocess", "--max-tokens", "4"]
    run = cli("interpret", str(image_file), "--server", server.url, *options,
              key=server.api_key, extra_env=env, python_path=folder)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["served_model"] == server.model_id
    contacted = set(log.read_text().split())
    assert contacted == {host}


def test_with_no_server_configured_a_local_reading_opens_no_connection(
    server: LlamaServer, image_file: Path, tmp_path: Path
) -> None:
    folder, env, log = guarded(tmp_path, "")
    run = cli("interpret", str(image_file), "--model", str(server.text), "--mmproj",
              str(server.mmproj), "--json", "--no-preprocess", "--max-tokens", "4",
              "--ctx", "1024", extra_env=env, python_path=folder)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["server"] is None
    assert log.read_text() == ""
