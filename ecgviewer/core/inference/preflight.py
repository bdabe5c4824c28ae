"""Check a text GGUF + mmproj GGUF pair before llama.cpp sees either file.

llama.cpp reports a mismatched projector or a truncated file only as "Failed
to load ...". Here every problem gets its own message that says what is wrong
and what to do, raised as a `ModelError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ecgviewer.core.errors import ModelError
from ecgviewer.core.inference.gguf_header import (
    GgufFormatError,
    GgufHeader,
    dominant_tensor_type,
    read_header,
)

TEXT_ARCHITECTURE = "gemma3"
MMPROJ_ARCHITECTURE = "clip"
MMPROJ_PROJECTOR = "gemma3"
GEMMA3_POOLING = 4  # the gemma3 projector average-pools the patch grid by 4 per side

FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
    16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
    22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
    28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE",
}  # fmt: skip


@dataclass(frozen=True)
class TextModelFacts:
    """What the text GGUF says about itself."""

    path: Path
    size_bytes: int
    name: str
    architecture: str
    quantization: str
    embedding_length: int
    block_count: int
    context_length: int
    head_count_kv: int
    key_length: int
    value_length: int
    has_chat_template: bool
    sliding_window: int = 0  # tokens seen by the local-attention layers; 0 = none


@dataclass(frozen=True)
class ProjectorFacts:
    """What the mmproj GGUF says about itself."""

    path: Path
    size_bytes: int
    name: str
    quantization: str
    projector_type: str
    projection_dim: int
    image_size: int
    patch_size: int

    @property
    def image_tokens(self) -> int:
        side = self.image_size // self.patch_size if self.patch_size else 0
        return (side // GEMMA3_POOLING) ** 2


@dataclass(frozen=True)
class PairFacts:
    """A checked pair: both files are readable and belong together."""

    text: TextModelFacts
    mmproj: ProjectorFacts


def _open(path: Path, role: str) -> GgufHeader:
    label = "text model" if role == "text" else "vision projector (mmproj)"
    if not str(path).strip():
        raise ModelError(f"No {label} file was chosen.", hint="Choose it in Model settings.")
    if not path.exists():
        raise ModelError(
            f"The {label} file {path.name!r} was not found at {path.parent}.",
            hint="Check the path, or choose the file again in Model settings.",
        )
    if path.is_dir():
        raise ModelError(f"{path} is a folder, not a {label} GGUF file.")
    if not os.access(path, os.R_OK):
        raise ModelError(
            f"The {label} file {path.name!r} cannot be read (permission denied).",
            hint="Ask your administrator to make it readable for your account.",
        )
    try:
        return read_header(path)
    except GgufFormatError as exc:
        raise ModelError(_format_message(exc, path, label), hint=_format_hint(exc)) from exc
    except OSError as exc:
        raise ModelError(
            f"The {label} file {path.name!r} could not be read: {exc.strerror}."
        ) from exc


def _format_message(exc: GgufFormatError, path: Path, label: str) -> str:
    if exc.reason == "not_gguf":
        return f"{path.name!r} is not a GGUF file, so it cannot be the {label}."
    if exc.reason == "truncated":
        return f"The {label} file {path.name!r} is incomplete ({exc})."
    if exc.reason == "version":
        return f"The {label} file {path.name!r} uses an unsupported format ({exc})."
    return f"The {label} file {path.name!r} is damaged ({exc})."


def _format_hint(exc: GgufFormatError) -> str:
    if exc.reason == "truncated":
        return "The copy or download was probably interrupted: copy the file again."
    if exc.reason == "version":
        return "Convert the model again with a current llama.cpp (see models/README.md)."
    return "Choose the .gguf file produced by the conversion (see models/README.md)."


def _quantization(header: GgufHeader) -> str:
    file_type = header.get("general.file_type")
    if isinstance(file_type, int) and file_type in FILE_TYPES:
        return FILE_TYPES[file_type]
    return dominant_tensor_type(header)


def inspect_text_model(path: Path) -> TextModelFacts:
    """Read and check the text GGUF; raises ModelError with a specific message."""
    header = _open(path, "text")
    arch = header.architecture
    if arch == MMPROJ_ARCHITECTURE:
        raise ModelError(
            f"{path.name!r} is a vision projector (mmproj), not the text model.",
            hint="Choose it as the mmproj file, and choose the larger text GGUF as the model.",
        )
    if arch != TEXT_ARCHITECTURE:
        raise ModelError(
            f"{path.name!r} is a {arch or 'unknown'} model; ECG Viewer needs a Gemma 3 "
            "text model (MedGemma-ECG).",
            hint="See models/README.md for the files to use.",
        )
    prefix = f"{arch}."
    heads = int(header.get(prefix + "attention.head_count", 0) or 0)
    embd = int(header.get(prefix + "embedding_length", 0) or 0)
    key_length = int(header.get(prefix + "attention.key_length", 0) or (embd // max(heads, 1)))
    return TextModelFacts(
        path=path,
        size_bytes=header.file_size,
        name=str(header.get("general.name", path.stem)),
        architecture=arch,
        quantization=_quantization(header),
        embedding_length=embd,
        block_count=int(header.get(prefix + "block_count", 0) or 0),
        context_length=int(header.get(prefix + "context_length", 0) or 0),
        head_count_kv=int(header.get(prefix + "attention.head_count_kv", heads) or heads),
        key_length=key_length,
        value_length=int(header.get(prefix + "attention.value_length", 0) or key_length),
        has_chat_template=bool(header.get("tokenizer.chat_template")),
        sliding_window=int(header.get(prefix + "attention.sliding_window", 0) or 0),
    )


def inspect_projector(path: Path) -> ProjectorFacts:
    """Read and check the mmproj GGUF; raises ModelError with a specific message."""
    header = _open(path, "mmproj")
    arch = header.architecture
    if arch == TEXT_ARCHITECTURE or (arch and arch != MMPROJ_ARCHITECTURE):
        raise ModelError(
            f"{path.name!r} is a text model ({arch}), not a vision projector (mmproj).",
            hint="Choose the smaller file whose name contains 'mmproj' as the projector.",
        )
    if arch != MMPROJ_ARCHITECTURE:
        raise ModelError(f"{path.name!r} does not declare an architecture; it is not an mmproj.")
    projector = str(header.get("clip.projector_type", ""))
    if projector != MMPROJ_PROJECTOR:
        raise ModelError(
            f"{path.name!r} is a {projector or 'unknown'} projector; MedGemma needs a "
            "Gemma 3 projector.",
            hint="Use the mmproj converted from the same MedGemma-ECG model.",
        )
    if not header.get("clip.has_vision_encoder", False):
        raise ModelError(f"{path.name!r} has no vision encoder, so it cannot read an image.")
    return ProjectorFacts(
        path=path,
        size_bytes=header.file_size,
        name=str(header.get("general.name", path.stem)),
        quantization=_quantization(header),
        projector_type=projector,
        projection_dim=int(header.get("clip.vision.projection_dim", 0) or 0),
        image_size=int(header.get("clip.vision.image_size", 0) or 0),
        patch_size=int(header.get("clip.vision.patch_size", 0) or 0),
    )


def check_pair(text_path: Path, mmproj_path: Path) -> PairFacts:
    """Check both files and that the projector feeds this text model."""
    text = inspect_text_model(Path(text_path))
    mmproj = inspect_projector(Path(mmproj_path))
    if mmproj.projection_dim != text.embedding_length:
        raise ModelError(
            f"The projector {mmproj.path.name!r} produces {mmproj.projection_dim}-wide image "
            f"embeddings, but the text model {text.path.name!r} is {text.embedding_length} wide: "
            "they are not a pair.",
            hint="Use the text GGUF and mmproj converted from the same model.",
        )
    return PairFacts(text=text, mmproj=mmproj)
