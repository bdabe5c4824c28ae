"""`import_checkpoint`: a Hugging Face folder becomes a checked GGUF pair in the models folder.

Stages: read (check the folder, hash the shards), convert (text F16 + mmproj
F16), quantize (llama.cpp's `llama_model_quantize`), check (our preflight,
then a short greedy run on the bundled sample ECG in the app's own worker).
All files are written inside a temporary folder in the output folder; the
final files appear only by rename, at the very end. Cancel, a full disk or any
error removes the temporary folder and leaves the output folder as it was.
Qt-free: the window and `ecgviewer models import` both call this.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgviewer import __version__
from ecgviewer.core.errors import Cancelled, InputError
from ecgviewer.core.inference.integrity import sha256_file
from ecgviewer.core.modelimport import gguf_out
from ecgviewer.core.modelimport.checkpoint import Checkpoint, open_checkpoint
from ecgviewer.core.modelimport.lora import Adapter, check_fits, read_adapter
from ecgviewer.core.modelimport.quantize import BITS_PER_WEIGHT, FTYPES, quantize
from ecgviewer.core.modelimport.vocab import Vocabulary, read_vocabulary


class OutputFolderError(InputError):
    """The output folder cannot take the import: not writable, too full, or files in the way."""

    title = "Cannot write the imported model"


StageProgress = Callable[[str, float], None]
"""(stage, fraction of that stage done); stages: read, convert, quantize, check."""

STAGES = ("read", "convert", "quantize", "check")


@dataclass(frozen=True)
class ImportRequest:
    """What to import, where to, and how."""

    folder: Path
    out: Path
    quant: str = "Q4_K_M"
    threads: int = 2
    check: bool = True
    lora: Path | None = None  # a PEFT LoRA adapter folder, merged into the base


@dataclass
class ImportResult:
    """The new pair and everything measured on the way (also written as JSON beside it)."""

    text_model: Path
    mmproj: Path
    sha256: dict[str, str]
    quant: str
    imatrix: str
    timings: dict[str, float] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "text_model": str(self.text_model), "mmproj": str(self.mmproj),
            "sha256": self.sha256, "quant": self.quant, "imatrix": self.imatrix,
            "timings": self.timings, "check": self.check, "source": self.source,
        }  # fmt: skip


def output_names(checkpoint: Checkpoint, quant: str) -> tuple[str, str]:
    """(text file name, projector file name) in llama.cpp's usual naming."""
    stem = checkpoint.folder.name
    return f"{stem}-{quant}.gguf", f"mmproj-{stem}-F16.gguf"


def disk_needed(checkpoint: Checkpoint, quant: str) -> int:
    """Bytes the output folder must have free: the F16 files, then the quantized copy."""
    text_params = sum(
        ref.nbytes // (2 if ref.dtype != "F32" else 4)
        for name, ref in checkpoint.tensors.items()
        if name.startswith("model.")
    )
    vision = sum(ref.nbytes for name, ref in checkpoint.tensors.items() if "vision" in name)
    f16 = 2 * text_params + vision
    quantized = int(text_params * BITS_PER_WEIGHT[quant] / 8) if quant != "F16" else 0
    return f16 + quantized + 64 * 1024 * 1024


def import_checkpoint(
    request: ImportRequest, progress: StageProgress, cancelled: Callable[[], bool]
) -> ImportResult:
    """Run every stage; raises CheckpointError, ModelError, StorageError or Cancelled."""
    if request.quant not in FTYPES:
        raise ValueError(f"unknown quantization {request.quant}")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    checkpoint = open_checkpoint(request.folder)
    vocab = read_vocabulary(request.folder)
    adapter = read_adapter(request.lora) if request.lora else None
    if adapter is not None:
        check_fits(adapter, checkpoint.tensors)
    _check_output_folder(request.out, disk_needed(checkpoint, request.quant))
    _check_not_there(request.out, output_names(checkpoint, request.quant))
    origin = gguf_out.Provenance(
        checkpoint.folder.name, _hash_shards(checkpoint, progress, cancelled),
        f"ECG Viewer {__version__} importer",
    )  # fmt: skip
    timings["read_ms"] = _ms(start)
    work = Path(tempfile.mkdtemp(prefix=".import-", dir=request.out))
    try:
        job = _Job(request, checkpoint, vocab, origin, work, progress, cancelled, timings, adapter)
        result = _convert_and_quantize(job)
        if request.check:
            from ecgviewer.core.modelimport.verify import conversion_check

            start = time.perf_counter()
            result.check = conversion_check(result.text_model, result.mmproj, progress)
            timings["check_ms"] = _ms(start)
        return _publish(result, request.out, checkpoint)
    except OSError as exc:
        raise OutputFolderError(
            f"The import could not write its files ({exc.strerror or exc}).",
            hint="Check that the output folder is writable and has enough free space.",
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class _Job:
    """One import in progress: what was asked, what was read, where files go, how to report."""

    request: ImportRequest
    checkpoint: Checkpoint
    vocab: Vocabulary
    origin: gguf_out.Provenance
    work: Path
    progress: StageProgress
    cancelled: Callable[[], bool]
    timings: dict[str, float]
    adapter: Adapter | None


def _convert_and_quantize(job: _Job) -> ImportResult:
    request, checkpoint, vocab, origin = job.request, job.checkpoint, job.vocab, job.origin
    work, progress, cancelled, timings = job.work, job.progress, job.cancelled, job.timings
    text_name, mmproj_name = output_names(checkpoint, request.quant)
    f16 = work / f"{checkpoint.folder.name}-F16.gguf"
    mmproj = work / mmproj_name
    start = time.perf_counter()
    text_plan = gguf_out.plan_text(checkpoint, vocab, job.adapter)
    vision_plan = gguf_out.plan_mmproj(checkpoint)
    total = sum(p.source.nbytes for p in text_plan + vision_plan) or 1
    text_bytes = sum(p.source.nbytes for p in text_plan)

    def text_part(done: int, _all: int) -> None:
        progress("convert", done / total)

    def vision_part(done: int, _all: int) -> None:
        progress("convert", (text_bytes + done) / total)

    gguf_out.write_gguf(f16, gguf_out.text_writer(f16, checkpoint, vocab, origin), text_plan,
                        text_part, cancelled)  # fmt: skip
    gguf_out.write_gguf(mmproj, gguf_out.mmproj_writer(mmproj, checkpoint, origin), vision_plan,
                        vision_part, cancelled)  # fmt: skip
    timings["convert_ms"] = _ms(start)
    text = f16
    if request.quant != "F16":
        start = time.perf_counter()
        progress("quantize", 0.0)
        text = work / text_name
        quantize(f16, text, request.quant, request.threads, cancelled)
        f16.unlink()
        progress("quantize", 1.0)
        timings["quantize_ms"] = _ms(start)
    elif f16.name != text_name:
        text = f16.rename(work / text_name)
    source = _source(checkpoint, origin)
    if job.adapter is not None:
        source["lora"] = {"folder": job.adapter.folder.name, "scale": job.adapter.scale}
    return ImportResult(text, mmproj, {}, request.quant, "none", timings, source=source)


def _publish(result: ImportResult, out: Path, checkpoint: Checkpoint) -> ImportResult:
    """Hash, write the report, then rename the files into `out` (the last step)."""
    result.sha256 = {"text_model": sha256_file(result.text_model),
                     "mmproj": sha256_file(result.mmproj)}  # fmt: skip
    final_text, final_mmproj = out / result.text_model.name, out / result.mmproj.name
    report = result.text_model.with_name(result.text_model.stem + "-import.json")
    published = ImportResult(
        final_text, final_mmproj, result.sha256, result.quant, result.imatrix, result.timings,
        result.check, result.source,
    )  # fmt: skip
    report.write_text(json.dumps(published.to_json(), indent=2), encoding="utf-8")
    for source in (result.mmproj, report, result.text_model):
        os.replace(source, out / source.name)
    return published


def _check_not_there(out: Path, names: tuple[str, str]) -> None:
    existing = [name for name in names if (out / name).exists()]
    if existing:
        raise OutputFolderError(
            f"{out} already holds {' and '.join(existing)}; the import never overwrites files.",
            hint="Remove or rename them, or choose another output folder.",
        )


def _check_output_folder(out: Path, needed: int) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise OutputFolderError(
            f"The output folder {out} cannot be written to.",
            hint="Choose a folder on a drive you can write to.",
        ) from exc
    free = shutil.disk_usage(out).free
    if free < needed:
        raise OutputFolderError(
            f"The import needs about {needed / 1e9:.1f} GB of free space in {out}; "
            f"only {free / 1e9:.1f} GB is free.",
            hint="Free some space or choose another output folder.",
        )


def _hash_shards(
    checkpoint: Checkpoint, progress: StageProgress, cancelled: Callable[[], bool]
) -> list[str]:
    files = checkpoint.shard_files
    digests = []
    for number, file in enumerate(files):
        if cancelled():
            raise Cancelled()
        digests.append(f"{file.name}: {sha256_file(file)}")
        progress("read", (number + 1) / len(files))
    return digests


def _source(checkpoint: Checkpoint, origin: gguf_out.Provenance) -> dict[str, Any]:
    return {  # (a merged LoRA adapter is listed by the caller)
        "folder": checkpoint.folder.name, "layout": checkpoint.layout,
        "transformers5_config": checkpoint.transformers5, "dtype": checkpoint.dtype,
        "size_bytes": checkpoint.size_bytes, "shards": origin.shard_sha256,
    }  # fmt: skip


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 1)
