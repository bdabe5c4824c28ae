"""`eval run --server URL --concurrency 2` against a real server equals the local run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.model.test_eval_end_to_end import labelled_set
from tests.support.llama_server import REPO, running_server

pytestmark = pytest.mark.slow
TASK = "ptb-xl-super"


def ecgviewer(*args: str, key: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ECGVIEWER_SERVER_KEY": key}
    return subprocess.run([sys.executable, "-m", "ecgviewer", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900, check=False)  # fmt: skip


def rows(path: Path) -> dict[str, str]:
    return {row["question_id"]: row["text"]
            for row in map(json.loads, path.read_text().splitlines())}  # fmt: skip


def score(path: Path) -> dict[str, object]:
    run = ecgviewer("eval", "score", str(path), "--task", TASK, "--json")
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def test_server_run_with_concurrency_scores_as_the_local_run(tmp_path: Path) -> None:
    dataset = labelled_set(tmp_path / "set")
    for index, colour in enumerate([(250, 200, 200), (200, 250, 200), (220, 220, 250)]):
        Image.new("RGB", (900, 900), colour).save(dataset / f"ecg{index}.png")  # words, not "\n"
    common = ["--task", TASK, "--max-tokens", "12"]
    local_out, server_out = tmp_path / "local.jsonl", tmp_path / "server.jsonl"
    with running_server(tmp_path) as server:
        pair = ["--model", str(server.text), "--mmproj", str(server.mmproj)]
        on_server = ["--server", server.url, "--concurrency", "2"]
        first = ecgviewer("eval", "run", str(dataset), *on_server, *common,
                          "--out", str(server_out), "--limit", "1", key=server.api_key)  # fmt: skip
        assert first.returncode == 0, first.stderr
        resumed = ecgviewer("eval", "run", str(dataset), *on_server, *common,
                            "--out", str(server_out), "--resume", key=server.api_key)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        local = ecgviewer("eval", "run", str(dataset), *pair, *common, "--out", str(local_out))
        assert local.returncode == 0, local.stderr
    assert "ECGs per minute, 2 at a time" in resumed.stdout
    assert list(rows(server_out)) == ["q0", "q1", "q2"]  # resume added q1, q2 in order
    assert rows(server_out) == rows(local_out)
    assert score(server_out) == score(local_out)
    meta = json.loads(server_out.with_name(server_out.name + ".meta.json").read_text())
    assert meta["provenance"]["server"] == server.url
    assert meta["provenance"]["served_model"] == server.model_id
