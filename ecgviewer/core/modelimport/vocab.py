"""The tokenizer of a checkpoint as GGUF vocabulary: pieces, scores, types, special ids, template.

`tokenizer.model` is read with `sentencepiece`. Special tokens are recognised
from every place a checkpoint may declare them, because transformers 5 stopped
writing `added_tokens_decoder` and `special_tokens_map.json`: llama.cpp's own
converter then leaves `<start_of_turn>` as plain text, which the model never saw
in training. A token is special (CONTROL) when `tokenizer_config.json`,
`tokenizer.json` or `special_tokens_map.json` says so, or when its name is one
of Gemma 3's control tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgviewer.core.json_cache import read_json_object
from ecgviewer.core.modelimport.checkpoint import read_json
from ecgviewer.core.modelimport.shards import CheckpointError

# llama.cpp's token types (gguf.TokenType)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
GEMMA_CONTROL = {
    "<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>",
    "<start_of_image>", "<end_of_image>", "<image_soft_token>",
}  # fmt: skip


@dataclass(frozen=True)
class Vocabulary:
    """What the text GGUF needs to tokenize exactly as the checkpoint does."""

    tokens: list[str]
    scores: list[float]
    types: list[int]
    bos: int
    eos: int
    unk: int
    pad: int
    add_bos: bool
    add_space_prefix: bool  # SentencePiece's "dummy prefix": a space before the first word
    chat_template: str

    def __len__(self) -> int:
        return len(self.tokens)


def read_vocabulary(folder: Path) -> Vocabulary:
    """The vocabulary of the checkpoint in `folder` (tokenizer.model preferred)."""
    if not (folder / "tokenizer.model").is_file():
        raise CheckpointError(
            "The folder has no tokenizer.model (the SentencePiece model Gemma 3 uses).",
            hint="Copy tokenizer.model from the published model into the folder.",
        )
    tokens, scores, types, space_prefix = _sentencepiece(folder / "tokenizer.model")
    special, added = _declared_special(folder)
    special |= GEMMA_CONTROL
    types = [_token_type(tokens[i], t, special, added) for i, t in enumerate(types)]
    config = read_json_object(folder / "tokenizer_config.json")
    index = {piece: number for number, piece in enumerate(tokens)}

    def token_id(name: str, fallback: int) -> int:
        value = config.get(f"{name}_token")
        text = value.get("content") if isinstance(value, dict) else value
        return index.get(str(text), fallback) if text else fallback

    return Vocabulary(
        tokens, scores, types,
        bos=token_id("bos", index.get("<bos>", 2)), eos=token_id("eos", index.get("<eos>", 1)),
        unk=token_id("unk", index.get("<unk>", 3)), pad=token_id("pad", index.get("<pad>", 0)),
        add_bos=bool(config.get("add_bos_token", True)), add_space_prefix=space_prefix,
        chat_template=_chat_template(folder, config),
    )  # fmt: skip


def _sentencepiece(path: Path) -> tuple[list[str], list[float], list[int], bool]:
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor()
    try:
        processor.LoadFromFile(str(path))
    except (OSError, RuntimeError) as exc:
        raise CheckpointError("tokenizer.model cannot be read by SentencePiece.") from exc
    tokens, scores, types = [], [], []
    for number in range(processor.vocab_size()):
        tokens.append(processor.id_to_piece(number))
        scores.append(float(processor.get_score(number)))
        types.append(_piece_type(processor, number))
    # the normaliser's add_dummy_prefix, seen from outside (Gemma's is off)
    space_prefix = processor.encode_as_pieces("a")[0].startswith("\u2581")
    return tokens, scores, types, space_prefix


def _piece_type(processor: Any, number: int) -> int:
    if processor.is_unknown(number):
        return UNKNOWN
    if processor.is_control(number):
        return CONTROL
    if processor.is_byte(number):
        return BYTE
    if processor.is_unused(number):
        return UNUSED
    return NORMAL


def _token_type(piece: str, kind: int, special: set[str], added: set[str]) -> int:
    """As llama.cpp's converter: declared special -> CONTROL, other added -> USER_DEFINED."""
    if kind == BYTE:
        return kind
    if piece in special:
        return CONTROL
    if piece in added:
        return USER_DEFINED
    return kind


def _declared_special(folder: Path) -> tuple[set[str], set[str]]:
    """(token texts the tokenizer files mark as special, other added token texts)."""
    found: set[str] = set()
    added: set[str] = set()
    config = read_json_object(folder / "tokenizer_config.json")
    entries = list((config.get("added_tokens_decoder") or {}).values())
    entries += read_json_object(folder / "tokenizer.json").get("added_tokens") or []
    for entry in entries:
        if isinstance(entry, dict):
            (found if entry.get("special") else added).add(str(entry.get("content")))
    for value in read_json_object(folder / "special_tokens_map.json").values():
        for item in value if isinstance(value, list) else [value]:
            text = item.get("content") if isinstance(item, dict) else item
            if isinstance(text, str):
                found.add(text)
    return found, added - found


def _chat_template(folder: Path, config: dict[str, Any]) -> str:
    """tokenizer_config.json's template, else chat_template.jinja, else chat_template.json."""
    template = config.get("chat_template")
    if isinstance(template, str) and template:
        return template
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if (folder / "chat_template.json").is_file():
        value = read_json(folder / "chat_template.json").get("chat_template")
        if isinstance(value, str):
            return value
    raise CheckpointError(
        "The checkpoint has no chat template (tokenizer_config.json, chat_template.jinja or "
        "chat_template.json).",
        hint="Without it the model would be asked in a format it was not trained on.",
    )
