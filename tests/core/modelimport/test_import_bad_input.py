"""Every bad checkpoint or output folder gets its own clear message, and nothing is written.

These stop before llama.cpp is involved (or fail inside the conversion), so they
run without the model tier.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.core.errors import InputError
from ecgviewer.core.modelimport.checkpoint import open_checkpoint
from ecgviewer.core.modelimport.importer import ImportRequest, import_checkpoint
from ecgviewer.core.modelimport.shards import CheckpointError
from tests.support.hf_checkpoint import write_checkpoint


def attempt(folder: Path, out: Path) -> None:
    request = ImportRequest(folder, out, "F16", threads=1, check=False)
    import_checkpoint(request, lambda stage, fraction: None, lambda: False)


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return write_checkpoint(tmp_path / "tiny-gemma3", layout="old", shards=2)


def edit_config(folder: Path, change: dict[str, object]) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(change)
    path.write_text(json.dumps(config))


def expect(folder: Path, out: Path, message: str) -> CheckpointError | InputError:
    with pytest.raises(InputError) as raised:
        attempt(folder, out)
    assert message in str(raised.value)
    assert not out.exists() or list(out.iterdir()) == []  # nothing half-written
    return raised.value


def test_a_llama_checkpoint_is_named_as_such(checkpoint: Path, tmp_path: Path) -> None:
    edit_config(checkpoint, {"model_type": "llama", "architectures": ["LlamaForCausalLM"]})
    expect(checkpoint, tmp_path / "out", "This is a llama checkpoint")


def test_a_text_only_gemma_3_has_no_vision_tower(checkpoint: Path, tmp_path: Path) -> None:
    config = json.loads((checkpoint / "config.json").read_text())
    del config["vision_config"]
    (checkpoint / "config.json").write_text(json.dumps(config))
    expect(checkpoint, tmp_path / "out", "text-only Gemma 3 checkpoint")


def test_a_folder_without_config_is_not_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    expect(tmp_path / "empty", tmp_path / "out", "no config.json")


def test_a_missing_shard_is_named(checkpoint: Path, tmp_path: Path) -> None:
    (checkpoint / "model-00002-of-00002.safetensors").unlink()
    expect(checkpoint, tmp_path / "out", "model-00002-of-00002.safetensors")


def test_a_truncated_shard_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    shard = checkpoint / "model-00001-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-100])
    expect(checkpoint, tmp_path / "out", "is not a complete safetensors file")


def test_no_tokenizer(checkpoint: Path, tmp_path: Path) -> None:
    (checkpoint / "tokenizer.model").unlink()
    expect(checkpoint, tmp_path / "out", "no tokenizer")


def test_bf16_data_labelled_f16_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    for shard in checkpoint.glob("*.safetensors"):  # same bytes, the label says F16
        raw = shard.read_bytes()
        length = int.from_bytes(raw[:8], "little")
        header = raw[8 : 8 + length].replace(b'"BF16"', b'"F16" ')
        shard.write_bytes(raw[:8] + header + raw[8 + length :])
    expect(checkpoint, tmp_path / "out", "look like bfloat16 data read as F16")


def test_an_output_path_that_is_a_file_cannot_be_written(checkpoint: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file, not a folder")
    with pytest.raises(InputError, match="cannot be written to"):
        attempt(checkpoint, blocker)


def test_existing_files_are_never_overwritten(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mmproj-tiny-gemma3-F16.gguf").write_bytes(b"keep me")
    with pytest.raises(InputError, match="never overwrites"):
        attempt(checkpoint, out)
    assert (out / "mmproj-tiny-gemma3-F16.gguf").read_bytes() == b"keep me"
    assert [p.name for p in out.iterdir()] == ["mmproj-tiny-gemma3-F16.gguf"]


def test_a_full_disk_while_writing_leaves_the_folder_as_it_was(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gguf

    def full(self: object, tensor: np.ndarray, *args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensor_data", full)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="No space left on device"):
        attempt(checkpoint, out)
    assert list(out.iterdir()) == []


def test_both_layouts_and_config_dialects_read_the_same(tmp_path: Path) -> None:
    old = open_checkpoint(write_checkpoint(tmp_path / "a", layout="old"))
    new = open_checkpoint(write_checkpoint(tmp_path / "b", layout="new", transformers5=True))
    assert (old.layout, new.layout) == ("older", "newer")
    assert not old.transformers5 and new.transformers5
    assert old.text == new.text and old.vision == new.vision
    assert set(old.tensors) | {"lm_head.weight"} == set(new.tensors)
    assert old.text.sliding == (True, False) and old.text.rope_linear_factor == 8.0


def test_a_lora_for_another_base_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    from tests.support.hf_checkpoint import TinySpec, write_lora

    other = write_checkpoint(tmp_path / "other", TinySpec(hidden=48), layout="old")
    adapter = write_lora(tmp_path / "adapter", other)
    request = ImportRequest(checkpoint, tmp_path / "out", "F16", threads=1, check=False,
                            lora=adapter)  # fmt: skip
    with pytest.raises(InputError, match="does not fit the base model"):
        import_checkpoint(request, lambda stage, fraction: None, lambda: False)
    assert not (tmp_path / "out").exists()


def test_the_conversion_check_names_what_it_saw() -> None:
    from ecgviewer.core.modelimport.verify import outcome

    assert outcome("Sinus rhythm at 72 beats per minute, normal axis.", 12) == "ok"
    assert outcome("\n\n  \n", 24) == "empty"
    assert outcome("rate rate rate rate rate rate", 24) == "repeated"
    assert outcome("jjjjjjjjjjjj", 24) == "repeated"
    assert outcome("\ufffd indippeppe\ufffdm p pu$ s]]?DD", 24) == "garbled"
    assert outcome("12 34 56 78 ## %% ^^ ** 90", 24) == "garbled"


def test_an_adapter_the_importer_cannot_apply_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    from tests.support.hf_checkpoint import write_lora

    adapter = write_lora(tmp_path / "adapter", checkpoint)
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["use_dora"] = True
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    request = ImportRequest(checkpoint, tmp_path / "out", "F16", threads=1, check=False,
                            lora=adapter)  # fmt: skip
    with pytest.raises(InputError, match="use_dora, which the importer does not apply"):
        import_checkpoint(request, lambda stage, fraction: None, lambda: False)
