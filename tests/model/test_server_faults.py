"""The server dies in the middle of an answer: the partial text is kept, marked incomplete.

A server of its own (it is killed), real llama_cpp.server with the quiet pair.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ecgviewer.core.conversation import Conversation
from ecgviewer.core.inference.answering import ask
from ecgviewer.core.inference.remote import RemoteRuntime
from ecgviewer.core.inference.server_config import ServerConfig
from ecgviewer.core.inference.server_errors import ServerError
from ecgviewer.core.paths import app_paths
from ecgviewer.core.settings import ModelSettings
from ecgviewer.core.workspace import png_bytes
from tests.support.llama_server import running_server

pytestmark = pytest.mark.slow


def test_server_killed_mid_answer_keeps_the_partial_answer_marked_failed(tmp_path: Path) -> None:
    png = png_bytes(Image.new("RGB", (896, 896), (250, 200, 200)))
    with running_server(tmp_path) as server:
        config = ServerConfig(server.url, server.api_key)
        runtime = RemoteRuntime(config, app_paths().ensure(), ModelSettings(max_tokens=200))
        runtime.connect()
        conversation = Conversation()

        def kill_at_first_text(_text: str) -> None:
            if server.process.poll() is None:
                server.process.kill()

        with pytest.raises(ServerError, match="cut in the middle of the answer") as cut:
            ask(runtime, conversation, png, "What is the heart rate?", on_text=kill_at_first_text)
        runtime.close()
    assert cut.value.reason == "cut"
    turn = conversation.thread[-1]
    assert turn.stop_reason == "failed"  # shown as "Failed - incomplete", never as whole
    assert turn.answer  # the text that arrived is kept
    assert not conversation.busy
    assert conversation.history() == []  # a failed turn is not resent as history
