"""Write a random-weight Hugging Face checkpoint with MedGemma-4B's exact shapes (benchmarks only).

    python benchmarks/make_hf_standin.py [--out FOLDER]

What `transformers` saves for Gemma3ForConditionalGeneration (older tensor names,
transformers 4 config): two bf16 safetensors shards of about 4.3 GB each with an
index, text model 2560 wide, 34 blocks (five sliding-window layers per global
one, window 1024, linear rope scaling 8 on the global layers), feed-forward
10240, 8 heads / 4 KV heads of 256, an embedding of 262,208 rows (Gemma's padded
vocabulary); SigLIP 1152 wide, 27 blocks, feed-forward 4304, 16 heads, 896 px,
patch 14; the Gemma 3 projector. The tokenizer.model is built with
sentencepiece's model protobuf from the 262,144 pieces of the Gemma 3 270M test
GGUF (needs `pip install protobuf`), so the vocabulary has the real size.

Values are random bf16 numbers of a weight's usual size; tensors are generated
and written one at a time (memory stays small). About 8.6 GB on disk and a few
minutes. Timing does not depend on weight values: results are labelled
"random weights, MedGemma-4B shapes" wherever they are reported.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import models  # noqa: E402

TEXT = {"hidden_size": 2560, "intermediate_size": 10240, "num_hidden_layers": 34,
        "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
        "sliding_window": 1024, "sliding_window_pattern": 6, "rope_theta": 1_000_000.0,
        "rope_local_base_freq": 10_000.0, "rope_scaling": {"rope_type": "linear", "factor": 8.0},
        "rms_norm_eps": 1e-6, "max_position_embeddings": 131072, "vocab_size": 262208,
        "query_pre_attn_scalar": 256, "model_type": "gemma3_text",
        "hidden_activation": "gelu_pytorch_tanh"}  # fmt: skip
VISION = {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
          "num_attention_heads": 16, "image_size": 896, "patch_size": 14, "layer_norm_eps": 1e-6,
          "num_channels": 3, "model_type": "siglip_vision_model"}  # fmt: skip
DEFAULT_NAME = "medgemma-4b-shaped-random"


def shapes() -> list[tuple[str, tuple[int, ...]]]:
    """Every tensor of the checkpoint, in the older layout's names."""
    t = TEXT
    hidden, heads, kv = t["hidden_size"], t["num_attention_heads"], t["num_key_value_heads"]
    hd, ffn = t["head_dim"], t["intermediate_size"]
    found: list[tuple[str, tuple[int, ...]]] = [
        ("language_model.model.embed_tokens.weight", (t["vocab_size"], hidden)),
        ("language_model.model.norm.weight", (hidden,)),
    ]
    for i in range(t["num_hidden_layers"]):
        p = f"language_model.model.layers.{i}."
        found += [(p + n + ".weight", (hidden,)) for n in (
            "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
            "post_feedforward_layernorm")]  # fmt: skip
        found += [(p + "self_attn.q_proj.weight", (heads * hd, hidden)),
                  (p + "self_attn.k_proj.weight", (kv * hd, hidden)),
                  (p + "self_attn.v_proj.weight", (kv * hd, hidden)),
                  (p + "self_attn.o_proj.weight", (hidden, heads * hd)),
                  (p + "self_attn.q_norm.weight", (hd,)), (p + "self_attn.k_norm.weight", (hd,)),
                  (p + "mlp.gate_proj.weight", (ffn, hidden)),
                  (p + "mlp.up_proj.weight", (ffn, hidden)),
                  (p + "mlp.down_proj.weight", (hidden, ffn))]  # fmt: skip
    return found + vision_shapes(hidden)


def vision_shapes(text_hidden: int) -> list[tuple[str, tuple[int, ...]]]:
    v = VISION
    width, ffn, patch = v["hidden_size"], v["intermediate_size"], v["patch_size"]
    p = "vision_tower.vision_model."
    found: list[tuple[str, tuple[int, ...]]] = [
        (p + "embeddings.patch_embedding.weight", (width, 3, patch, patch)),
        (p + "embeddings.patch_embedding.bias", (width,)),
        (p + "embeddings.position_embedding.weight", ((v["image_size"] // patch) ** 2, width)),
        (p + "post_layernorm.weight", (width,)),
        (p + "post_layernorm.bias", (width,)),
        ("multi_modal_projector.mm_input_projection_weight", (width, text_hidden)),
        ("multi_modal_projector.mm_soft_emb_norm.weight", (width,)),
    ]
    for i in range(v["num_hidden_layers"]):
        q = f"{p}encoder.layers.{i}."
        for name in (
            "self_attn.q_proj",
            "self_attn.k_proj",
            "self_attn.v_proj",
            "self_attn.out_proj",
        ):
            found += [(f"{q}{name}.weight", (width, width)), (f"{q}{name}.bias", (width,))]
        found += [(q + "mlp.fc1.weight", (ffn, width)), (q + "mlp.fc1.bias", (ffn,)),
                  (q + "mlp.fc2.weight", (width, ffn)), (q + "mlp.fc2.bias", (width,))]  # fmt: skip
        found += [(f"{q}layer_norm{n}.{k}", (width,)) for n in (1, 2) for k in ("weight", "bias")]
    return found


def random_bf16(shape: tuple[int, ...], rng: np.random.Generator) -> bytes:
    """bf16 bits of small random numbers (|x| about 2^-7 .. 2^-4, random sign), quickly."""
    count = int(np.prod(shape))
    exponent = rng.integers(120, 124, count, dtype=np.uint16)  # 2^-7 .. 2^-4
    mantissa = rng.integers(0, 128, count, dtype=np.uint16)
    sign = rng.integers(0, 2, count, dtype=np.uint16) << 15
    return (sign | (exponent << 7) | mantissa).astype("<u2").tobytes()


def write_shards(folder: Path, tensors: list[tuple[str, tuple[int, ...]]], shards: int) -> None:
    """Safetensors files written tensor by tensor (the format: u64 header size, JSON, data)."""
    sizes = [2 * int(np.prod(shape)) for _, shape in tensors]
    per_shard = sum(sizes) / shards
    groups: list[list[int]] = [[]]
    running = 0
    for index, size in enumerate(sizes):
        if running >= per_shard * len(groups) and len(groups) < shards:
            groups.append([])
        groups[-1].append(index)
        running += size
    rng = np.random.default_rng(0)
    weight_map = {}
    for number, group in enumerate(groups, start=1):
        name = f"model-{number:05d}-of-{len(groups):05d}.safetensors"
        header, offset = {}, 0
        for index in group:
            tensor, shape = tensors[index]
            header[tensor] = {"dtype": "BF16", "shape": list(shape),
                              "data_offsets": [offset, offset + sizes[index]]}  # fmt: skip
            offset += sizes[index]
            weight_map[tensor] = name
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with (folder / name).open("wb") as handle:
            handle.write(struct.pack("<Q", len(raw)) + raw)
            for index in group:
                handle.write(random_bf16(tensors[index][1], rng))
        print(f"wrote {name}", flush=True)
    index_data = {"metadata": {"total_size": sum(sizes)}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index_data, indent=1))


def write_tokenizer(folder: Path) -> list[str]:
    """tokenizer.model from the 270M GGUF's vocabulary (real Gemma 3 pieces and scores)."""
    import gguf
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    reader = gguf.GGUFReader(str(models.text_model_path()))
    tokens = reader.get_field("tokenizer.ggml.tokens").contents()
    scores = reader.get_field("tokenizer.ggml.scores").contents()
    types = reader.get_field("tokenizer.ggml.token_type").contents()
    proto = model_pb2.ModelProto()
    kinds = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6}  # llama.cpp's token types match sentencepiece's
    for piece, score, kind in zip(tokens, scores, types, strict=True):
        entry = proto.pieces.add()
        entry.piece, entry.score, entry.type = piece, float(score), kinds.get(int(kind), 1)
    extra = proto.pieces.add()  # the 4B's image token (id 262144), absent from the text-only 270M
    extra.piece, extra.score, extra.type = "<image_soft_token>", 0.0, 4
    proto.trainer_spec.model_type = model_pb2.TrainerSpec.BPE
    proto.trainer_spec.byte_fallback = True
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id = 3, 2
    proto.trainer_spec.eos_id, proto.trainer_spec.pad_id = 1, 0
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.add_dummy_prefix = False
    (folder / "tokenizer.model").write_bytes(proto.SerializeToString())
    return [*tokens, "<image_soft_token>"]


def write_side_files(folder: Path, tokens: list[str]) -> None:
    specials = ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>",
                "<start_of_image>", "<end_of_image>", "<image_soft_token>")  # fmt: skip
    ids = {name: tokens.index(name) for name in specials}
    config = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
              "text_config": TEXT, "vision_config": VISION, "mm_tokens_per_image": 256,
              "boi_token_index": ids["<start_of_image>"],
              "eoi_token_index": ids["<end_of_image>"],
              "image_token_index": ids["<image_soft_token>"],
              "torch_dtype": "bfloat16"}  # fmt: skip
    template = (REPO / "tests" / "support" / "gemma3_chat_template.jinja").read_text()
    tokenizer_config = {
        "add_bos_token": True, "add_eos_token": False, "chat_template": template,
        "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
        "added_tokens_decoder": {str(i): {"content": n, "special": True} for n, i in ids.items()},
    }  # fmt: skip
    files = {
        "config.json": config, "tokenizer_config.json": tokenizer_config,
        "special_tokens_map.json": {"bos_token": "<bos>", "eos_token": "<eos>",
                                    "pad_token": "<pad>", "unk_token": "<unk>"},
        "preprocessor_config.json": {"image_mean": [0.5] * 3, "image_std": [0.5] * 3,
                                     "size": {"height": 896, "width": 896},
                                     "image_seq_length": 256},
        "generation_config.json": {"bos_token_id": 2, "eos_token_id": [1, 106], "do_sample": False},
    }  # fmt: skip
    for name, data in files.items():
        (folder / name).write_text(json.dumps(data, indent=1), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=models.cache_dir() / DEFAULT_NAME)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tokens = write_tokenizer(args.out)
    write_side_files(args.out, tokens)
    write_shards(args.out, shapes(), shards=2)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
