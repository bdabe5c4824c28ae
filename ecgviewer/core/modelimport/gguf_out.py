"""Write the text GGUF and the mmproj GGUF from a checked checkpoint, one tensor at a time.

Uses the `gguf` package (llama.cpp's own writer, tensor-name maps and keys).
Every tensor's size is declared first (`add_tensor_info`); the data is then
read, transformed and written tensor by tensor, so memory holds one tensor.

What a conversion must get right, each checked by tests/model/test_import.py
against a numpy forward pass written from the Hugging Face definition:

* Gemma's RMSNorms apply (1 + w): every text norm and the projector's
  `soft_emb_norm` get +1 here; SigLIP's LayerNorms do not.
* Linear rope scaling belongs to the global layers only; sliding layers have
  their own rope base (`rope.freq_base_swa`); the per-layer sliding pattern
  is written as an explicit list, whatever form the config used.
* The projector's input projection keeps Hugging Face's [vision, text] layout.
* Embedding rows beyond the tokenizer's size (a padded vocabulary) are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ecgviewer.core.errors import Cancelled
from ecgviewer.core.modelimport.checkpoint import Checkpoint
from ecgviewer.core.modelimport.lora import Adapter
from ecgviewer.core.modelimport.shards import CheckpointError, TensorRef
from ecgviewer.core.modelimport.vocab import Vocabulary

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
Transform = Callable[[np.ndarray, int], np.ndarray]  # (rows, index of the first row) -> rows
CHUNK_ELEMENTS = 16 * 1024 * 1024  # rows are converted in pieces of at most 64 MB of float32


@dataclass(frozen=True)
class Planned:
    """One output tensor: its GGUF name, source, output type and change on the way."""

    name: str
    source: TensorRef
    shape: tuple[int, ...]
    dtype: type
    transform: Transform | None = None


@dataclass(frozen=True)
class Provenance:
    """What the GGUFs record about where they came from (general.*)."""

    folder_name: str
    shard_sha256: list[str]  # "file: sha256"
    converter: str


def _plus_one(data: np.ndarray, _first_row: int) -> np.ndarray:
    return data + 1.0


def _merged(adapter: Adapter, name: str) -> Transform:
    def merge(data: np.ndarray, first_row: int) -> np.ndarray:
        return adapter.merge(name, data, first_row)

    return merge


def _output_type(shape: tuple[int, ...]) -> type:
    return np.float16 if len(shape) >= 2 else np.float32


def plan_text(
    checkpoint: Checkpoint, vocab: Vocabulary, adapter: Adapter | None = None
) -> list[Planned]:
    """The text GGUF's tensors; with an adapter, its changes merged into the weights."""
    import gguf

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, checkpoint.text.layers)
    planned = []
    for name, ref in checkpoint.tensors.items():
        if not name.startswith(("model.", "lm_head.")):
            continue
        if name == "lm_head.weight" and checkpoint.text.tied_embeddings:
            continue  # tied: llama.cpp reuses token_embd
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise CheckpointError(f"The text tensor {name} has no place in a Gemma 3 GGUF.")
        shape: tuple[int, ...] = ref.shape
        transform: Transform | None = None
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            if shape[0] < len(vocab):
                raise CheckpointError(
                    f"{name} has {shape[0]} rows but the tokenizer has {len(vocab)} tokens: "
                    "the tokenizer does not belong to this checkpoint."
                )
            shape = (len(vocab), *shape[1:])  # a padded vocabulary: keep the tokenizer's rows
        elif name.endswith("norm.weight"):
            transform = _plus_one
        elif adapter is not None and name in adapter.pairs:
            transform = _merged(adapter, name)
        planned.append(Planned(target, ref, shape, _output_type(shape), transform))
    return planned


def plan_mmproj(checkpoint: Checkpoint, adapter: Adapter | None = None) -> list[Planned]:
    """The projector GGUF's tensors: SigLIP tower and the Gemma 3 projector (an adapter's
    changes to the tower merged, as a PEFT "all-linear" adapter trains those too)."""
    import gguf

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.MMPROJ, checkpoint.vision.layers)
    planned = []
    for name, ref in checkpoint.tensors.items():
        if not name.startswith(("vision_tower.", "multi_modal_projector.")):
            continue
        if ".head." in name:
            continue  # SigLIP's pooling head is not part of Gemma 3's image path
        source_name = name.replace("mm_input_projection_weight", "mm_input_projection.weight")
        target = names.get_name(source_name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise CheckpointError(f"The vision tensor {name} has no place in a Gemma 3 mmproj.")
        transform: Transform | None = _plus_one if "soft_emb_norm" in name else None
        if adapter is not None and name in adapter.pairs:
            transform = _merged(adapter, name)
        dtype = np.float32 if ".embeddings." in name or len(ref.shape) < 2 else np.float16
        planned.append(Planned(target, ref, ref.shape, dtype, transform))
    return planned


def write_gguf(
    path: Path, writer: object, planned: list[Planned], progress: Progress,
    cancelled: Callable[[], bool],
) -> None:  # fmt: skip
    """Declare, then stream every tensor of `planned` into `writer` (a GGUFWriter at `path`)."""
    import gguf

    assert isinstance(writer, gguf.GGUFWriter)
    for item in planned:
        nbytes = int(np.prod(item.shape, dtype=np.int64)) * np.dtype(item.dtype).itemsize
        writer.add_tensor_info(item.name, item.shape, np.dtype(item.dtype), nbytes)
    try:
        writer.write_header_to_file(path)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        total = sum(item.source.nbytes for item in planned)
        done = 0
        for item in planned:
            writer.write_tensor_data(_Streamed(item, cancelled))  # type: ignore[arg-type]
            done += item.source.nbytes
            progress(done, total)
    finally:
        writer.close()  # also on Cancel or an error: the caller removes the partial file


class _Streamed:
    """What GGUFWriter.write_tensor_data needs of an array (nbytes, tofile), made piece by
    piece: rows are read, transformed, converted and written a few MB at a time."""

    def __init__(self, item: Planned, cancelled: Callable[[], bool]) -> None:
        self.item = item
        self.cancelled = cancelled
        self.nbytes = int(np.prod(item.shape, dtype=np.int64)) * np.dtype(item.dtype).itemsize

    def tofile(self, handle: BinaryIO) -> None:
        item = self.item
        rows = item.shape[0] if item.shape else 1
        row_items = max(1, int(np.prod(item.shape[1:], dtype=np.int64)))
        step = max(1, CHUNK_ELEMENTS // row_items)
        for start in range(0, rows, step):
            if self.cancelled():  # per piece: the 1.3 GB embedding is many pieces
                raise Cancelled()
            data = item.source.load(start, min(rows, start + step))
            if item.transform is not None:
                data = item.transform(data, start)
            if item.source.dtype == "F16" and data.ndim == 2 and start == 0:
                _check_not_bfloat16(item, data)
            handle.write(np.ascontiguousarray(data, dtype=item.dtype).tobytes())


def _check_not_bfloat16(item: Planned, data: np.ndarray) -> None:
    """bf16 bits read as f16 turn small weights into values of about 1: refuse such data.

    Trained weight matrices have a median magnitude of a few hundredths; the
    bits of bf16 numbers between 1e-4 and 1 read as f16 all land near 1.
    """
    if float(np.median(np.abs(data[: min(len(data), 256)]))) > 0.5:
        raise CheckpointError(
            f"The tensor {item.source.name} is labelled F16 but its values look like bfloat16 "
            "data read as F16.",
            hint="The file was saved with a wrong type label; save the checkpoint again "
            "(torch_dtype bfloat16) and import that.",
        )


def text_writer(
    path: Path, checkpoint: Checkpoint, vocab: Vocabulary, origin: Provenance
) -> object:
    """A GGUFWriter for the text model with every key llama.cpp's gemma3 loader reads."""
    import gguf

    text = checkpoint.text
    writer = gguf.GGUFWriter(str(path), "gemma3")
    _general(writer, checkpoint, origin)
    writer.add_context_length(text.context)
    writer.add_embedding_length(text.hidden)
    writer.add_block_count(text.layers)
    writer.add_feed_forward_length(text.ffn)
    writer.add_head_count(text.heads)
    writer.add_head_count_kv(text.kv_heads)
    writer.add_key_length(text.head_dim)
    writer.add_value_length(text.head_dim)
    writer.add_layer_norm_rms_eps(text.rms_eps)
    writer.add_rope_freq_base(text.rope_theta)
    writer.add_rope_freq_base_swa(text.rope_theta_local)
    writer.add_sliding_window(text.sliding_window)
    writer.add_sliding_window_pattern(list(text.sliding))
    if text.rope_linear_factor != 1.0:
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(text.rope_linear_factor)
    if text.final_softcap:
        writer.add_final_logit_softcapping(float(text.final_softcap))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    _vocabulary(writer, vocab)
    return writer


def _vocabulary(writer: object, vocab: Vocabulary) -> None:
    import gguf

    assert isinstance(writer, gguf.GGUFWriter)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(vocab.tokens)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    writer.add_bos_token_id(vocab.bos)
    writer.add_eos_token_id(vocab.eos)
    writer.add_unk_token_id(vocab.unk)
    writer.add_pad_token_id(vocab.pad)
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(vocab.add_space_prefix)
    writer.add_chat_template(vocab.chat_template)


def mmproj_writer(path: Path, checkpoint: Checkpoint, origin: Provenance) -> object:
    """A GGUFWriter for the Gemma 3 projector (clip, projector type gemma3)."""
    import gguf

    vision = checkpoint.vision
    writer = gguf.GGUFWriter(str(path), "clip")
    _general(writer, checkpoint, origin)
    writer.add_clip_has_vision_encoder(True)
    writer.add_clip_projector_type(gguf.VisionProjectorType.GEMMA3)
    writer.add_vision_image_size(vision.image_size)
    writer.add_vision_patch_size(vision.patch)
    writer.add_vision_embedding_length(vision.hidden)
    writer.add_vision_feed_forward_length(vision.ffn)
    writer.add_vision_block_count(vision.layers)
    writer.add_vision_head_count(vision.heads)
    writer.add_vision_attention_layernorm_eps(vision.eps)
    writer.add_vision_projection_dim(checkpoint.text.hidden)
    writer.add_vision_image_mean(list(vision.image_mean))
    writer.add_vision_image_std(list(vision.image_std))
    writer.add_vision_use_gelu(True)
    if vision.pooling != 4:  # llama.cpp's default for gemma3
        writer.add_vision_projector_scale_factor(vision.pooling)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    return writer


def _general(writer: object, checkpoint: Checkpoint, origin: Provenance) -> None:
    import gguf

    assert isinstance(writer, gguf.GGUFWriter)
    writer.add_name(origin.folder_name)
    writer.add_string("general.source.folder", origin.folder_name)
    writer.add_array("general.source.sha256", origin.shard_sha256)
    writer.add_string("general.converter", origin.converter)
    writer.add_string("general.source.layout", checkpoint.layout)
