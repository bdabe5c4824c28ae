"""Preflight: every kind of bad model file gets its own clear message, before llama.cpp."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ecgviewer.core.errors import ModelError
from ecgviewer.core.inference import gguf_header
from ecgviewer.core.inference.gguf_header import GgufFormatError, SkippedArray, read_header
from ecgviewer.core.inference.preflight import check_pair
from tests.support.models import write_tiny_projector


def write_text_model(path: Path, *, arch: str = "gemma3", width: int = 640) -> Path:
    """A header-only stand-in for a text GGUF (preflight never reads weights)."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_string("general.name", "stand-in")
    writer.add_uint32(f"{arch}.embedding_length", width)
    writer.add_uint32(f"{arch}.block_count", 2)
    writer.add_uint32(f"{arch}.context_length", 8192)
    writer.add_uint32(f"{arch}.attention.head_count", 4)
    writer.add_uint32(f"{arch}.attention.head_count_kv", 1)
    writer.add_uint32("general.file_type", 15)
    writer.add_tensor("token_embd.weight", np.zeros((8, width), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def text(tmp_path: Path) -> Path:
    return write_text_model(tmp_path / "model-Q4_K_M.gguf")


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    return write_tiny_projector(tmp_path / "mmproj.gguf")


def test_a_good_pair_passes_with_facts(text: Path, proj: Path) -> None:
    facts = check_pair(text, proj)
    assert facts.text.embedding_length == 640
    assert facts.text.quantization == "Q4_K_M"
    assert facts.text.context_length == 8192
    assert facts.mmproj.projection_dim == 640
    assert facts.mmproj.image_tokens == 16  # 224 px / 14 px patches / pooling 4 -> 4 x 4


def test_missing_file(tmp_path: Path, proj: Path) -> None:
    with pytest.raises(ModelError, match=r"text model file 'absent\.gguf' was not found"):
        check_pair(tmp_path / "absent.gguf", proj)


def test_folder_instead_of_file(tmp_path: Path, proj: Path) -> None:
    with pytest.raises(ModelError, match="is a folder"):
        check_pair(tmp_path, proj)


def test_not_a_gguf(tmp_path: Path, proj: Path) -> None:
    bogus = tmp_path / "notes.gguf"
    bogus.write_text("hello, this is not a model" * 10)
    with pytest.raises(ModelError, match="is not a GGUF file"):
        check_pair(bogus, proj)


def test_truncated_text_model(tmp_path: Path, text: Path, proj: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(text.read_bytes()[:-100])
    with pytest.raises(ModelError, match="is incomplete") as info:
        check_pair(cut, proj)
    assert "copy the file again" in str(info.value)


def test_truncated_inside_header(tmp_path: Path, text: Path, proj: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(text.read_bytes()[:60])
    with pytest.raises(ModelError, match="is incomplete"):
        check_pair(cut, proj)


def test_unsupported_version(tmp_path: Path, proj: Path) -> None:
    old = tmp_path / "old.gguf"
    old.write_bytes(b"GGUF" + struct.pack("<IQQ", 1, 0, 0) + b"\0" * 16)
    with pytest.raises(ModelError, match="unsupported format"):
        check_pair(old, proj)


def test_projector_given_as_text_model(proj: Path, text: Path) -> None:
    with pytest.raises(ModelError, match=r"is a vision projector \(mmproj\), not the text model"):
        check_pair(proj, text)


def test_text_model_given_as_projector(text: Path) -> None:
    with pytest.raises(ModelError, match=r"is a text model \(gemma3\), not a vision projector"):
        check_pair(text, text)


def test_mismatched_width(tmp_path: Path, text: Path) -> None:
    wide = write_tiny_projector(tmp_path / "mmproj-2560.gguf", projection_dim=2560)
    with pytest.raises(
        ModelError, match=r"2560-wide image embeddings.*640 wide: they are not a pair"
    ):
        check_pair(text, wide)


def test_other_architecture(tmp_path: Path, proj: Path) -> None:
    llama = write_text_model(tmp_path / "llama.gguf", arch="llama")
    with pytest.raises(ModelError, match="is a llama model; ECG Viewer needs a Gemma 3"):
        check_pair(llama, proj)


def test_header_reader_rejects_absurd_counts(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 1) + b"\0" * 64)
    with pytest.raises(GgufFormatError) as info:
        read_header(junk)
    assert info.value.reason == "corrupt"


def write_with_vocabulary(path: Path, count: int) -> Path:
    """A header with a long string array before the keys that matter, like a real vocabulary."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_array("tokenizer.ggml.tokens", [f"tok{i}" * (i % 7 + 1) for i in range(count)])
    writer.add_array("tokenizer.ggml.scores", [float(i) for i in range(count)])
    writer.add_uint32("gemma3.block_count", 34)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_tensor("token_embd.weight", np.zeros((8, 64), np.float32))
    writer.add_tensor("output_norm.weight", np.zeros(64, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("chunk", [7, 8, 9, 1 << 20])  # strings split across reads, or not
def test_long_arrays_are_stepped_over_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    import gguf

    monkeypatch.setattr(gguf_header, "_CHUNK", chunk)
    path = write_with_vocabulary(tmp_path / "vocab.gguf", 5000)
    header = read_header(path)
    assert header.get("tokenizer.ggml.tokens") == SkippedArray(item_kind=8, count=5000)
    assert header.get("tokenizer.ggml.scores") == SkippedArray(item_kind=6, count=5000)
    assert header.get("gemma3.block_count") == 34  # what follows the arrays is read correctly
    assert header.get("clip.vision.image_mean") == [0.5, 0.5, 0.5]  # short arrays are kept
    reference = gguf.GGUFReader(str(path))
    assert header.data_offset == reference.data_offset
    assert [t.name for t in header.tensors] == [t.name for t in reference.tensors]


@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_a_file_cut_inside_a_long_array_is_truncated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(gguf_header, "_CHUNK", chunk)
    path = write_with_vocabulary(tmp_path / "vocab.gguf", 5000)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(path.read_bytes()[:20_000])  # inside the token strings
    with pytest.raises(GgufFormatError) as info:
        read_header(cut)
    assert info.value.reason == "truncated"
