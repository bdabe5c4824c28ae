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
from typing import Any, TypeVar

from ecgviewer import __version__
from ecgviewer.core.errors import Cancelled, InputError
from ecgviewer.core.inference.integrity import find_known_pair, load_manifest, sha256_file
from ecgviewer.core.json_cache import read_json_object, write_json_quietly
from ecgviewer.core.modelimport import gguf_out
from ecgviewer.core.modelimport.calibrate import DEFAULT_IMAGES, build_material, collect_in_child
from ecgviewer.core.modelimport.checkpoint import Checkpoint, open_checkpoint
from ecgviewer.core.modelimport.child import run_in_child
from ecgviewer.core.modelimport.imatrix_file import read_imatrix
from ecgviewer.core.modelimport.lora import Adapter, check_fits, read_adapter
from ecgviewer.core.modelimport.quantize import BITS_PER_WEIGHT, FTYPES, USES_IMATRIX, quantize
from ecgviewer.core.modelimport.shards import CheckpointError
from ecgviewer.core.modelimport.vocab import Vocabulary, read_vocabulary


class OutputFolderError(InputError):
    """The output folder cannot take the import: not writable, too full, or files in the way."""

    title = "Cannot write the imported model"


StageProgress = Callable[[str, float], None]
"""(stage, fraction of that stage done); stages: read, convert, quantize, check."""

STAGES = ("read", "convert", "calibrate", "quantize", "check")
_T = TypeVar("_T")


@dataclass(frozen=True)
class ImportRequest:
    """What to import, where to, and how."""

    folder: Path
    out: Path
    quant: str = "Q4_K_M"
    threads: int = 2
    check: bool = True
    lora: Path | None = None  # a PEFT LoRA adapter folder, merged into the base
    imatrix: str = "auto"  # "auto" (calibrate here), "none", or an imatrix file to use
    calibration_images: int = DEFAULT_IMAGES
    manifest: Path | None = None  # where the new pair is listed (the per-user manifest)


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
    imatrix_file: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "text_model": str(self.text_model), "mmproj": str(self.mmproj),
            "sha256": self.sha256, "quant": self.quant, "imatrix": self.imatrix,
            "timings": self.timings, "check": self.check, "source": self.source,
            "imatrix_file": str(self.imatrix_file) if self.imatrix_file else None,
            "perplexity": self.check.get("perplexity"),
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
    """Run every stage; raises CheckpointError, OutputFolderError, ModelError or Cancelled."""
    if request.quant not in FTYPES:
        raise ValueError(f"unknown quantization {request.quant}")
    start = time.perf_counter()
    checkpoint = open_checkpoint(request.folder)
    vocab = read_vocabulary(request.folder)
    adapter = read_adapter(request.lora) if request.lora else None
    if adapter is not None:
        check_fits(adapter, checkpoint.tensors)
    bring_your_own = _own_imatrix(request)
    _check_output_folder(request.out, disk_needed(checkpoint, request.quant))
    text_name = output_names(checkpoint, request.quant)[0]
    _check_not_there(request.out, (text_name, report_name(text_name)))
    remove_abandoned(request.out)
    origin = gguf_out.Provenance(
        checkpoint.folder.name, _hash_shards(checkpoint, progress, cancelled),
        f"ECG Viewer {__version__} importer",
    )  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix=".import-", dir=request.out))
    job = _Import(request, checkpoint, vocab, adapter=adapter, origin=origin, work=work,
                  progress=progress, cancelled=cancelled)  # fmt: skip
    job.timings["read_ms"] = _ms(start)
    try:
        result = _publish(job.run(bring_your_own), request.out, cancelled)
        if request.manifest is not None:
            record_in_manifest(request.manifest, result, checkpoint)
        return result
    except OSError as exc:
        raise OutputFolderError(
            f"The import could not write its files ({exc.strerror or exc}).",
            hint="Check that the output folder is writable and has enough free space.",
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _own_imatrix(request: ImportRequest) -> Path | None:
    """A user's imatrix file, checked before any work; None for "auto" and "none"."""
    if request.imatrix in ("auto", "none"):
        return None
    path = Path(request.imatrix)
    if not read_imatrix(path).sums:
        raise CheckpointError(f"The importance matrix {path.name} holds no entries.")
    return path


class _Import:
    """One import in progress: the stages after reading, each timed."""

    def __init__(
        self, request: ImportRequest, checkpoint: Checkpoint, vocab: Vocabulary, *,
        adapter: Adapter | None, origin: gguf_out.Provenance, work: Path,
        progress: StageProgress, cancelled: Callable[[], bool],
    ) -> None:  # fmt: skip
        self.request, self.checkpoint, self.vocab = request, checkpoint, vocab
        self.adapter, self.origin, self.work = adapter, origin, work
        self.progress, self.cancelled = progress, cancelled
        self.timings: dict[str, float] = {}
        self.f16 = work / "intermediate-F16.gguf"  # renamed when F16 is what was asked
        self.mmproj = work / output_names(checkpoint, request.quant)[1]

    def run(self, own_imatrix: Path | None) -> ImportResult:
        self._timed("convert", self._convert)
        imatrix, source = own_imatrix, str(own_imatrix.name) if own_imatrix else "none"
        if own_imatrix is None and self.request.imatrix == "auto" and self._uses_imatrix:
            stem = output_names(self.checkpoint, self.request.quant)[0].removesuffix(".gguf")
            imatrix = self.work / f"{stem}-imatrix.gguf"
            self._timed("calibrate", lambda: self._calibrate(imatrix))
            source = f"auto: {self.request.calibration_images} ECG images and cardiology text"
        text = self._timed("quantize", lambda: self._quantize(imatrix, source))
        result = ImportResult(text, self.mmproj, {}, self.request.quant, source, self.timings,
                              source=self._source())  # fmt: skip
        if imatrix is not None and imatrix.parent == self.work:
            result.imatrix_file = imatrix  # ours: published beside the pair for reuse
        if self.request.check:
            result.check = self._timed("check", lambda: self._check(text))
        self.f16.unlink(missing_ok=True)
        return result

    @property
    def _uses_imatrix(self) -> bool:
        return self.request.quant in USES_IMATRIX

    def _timed(self, stage: str, action: Callable[[], _T]) -> _T:
        start = time.perf_counter()
        self.progress(stage, 0.0)
        value = action()
        self.progress(stage, 1.0)
        self.timings[f"{stage}_ms"] = _ms(start)
        return value

    def _convert(self) -> None:
        text_plan = gguf_out.plan_text(self.checkpoint, self.vocab, self.adapter)
        vision_plan = gguf_out.plan_mmproj(self.checkpoint, self.adapter)
        total = sum(p.source.nbytes for p in text_plan + vision_plan) or 1
        text_bytes = sum(p.source.nbytes for p in text_plan)

        def text_part(done: int, _all: int) -> None:
            self.progress("convert", done / total)

        def vision_part(done: int, _all: int) -> None:
            self.progress("convert", (text_bytes + done) / total)

        writer = gguf_out.text_writer(self.f16, self.checkpoint, self.vocab, self.origin)
        gguf_out.write_gguf(self.f16, writer, text_plan, text_part, self.cancelled)
        writer = gguf_out.mmproj_writer(self.mmproj, self.checkpoint, self.origin)
        gguf_out.write_gguf(self.mmproj, writer, vision_plan, vision_part, self.cancelled)

    def _calibrate(self, out: Path) -> None:
        material_file = self.work / "calibration.json"
        build_material(self.work, self.request.calibration_images).to_file(material_file)
        job = {"text": str(self.f16), "mmproj": str(self.mmproj), "material": str(material_file),
               "out": str(out), "threads": self.request.threads}  # fmt: skip
        run_in_child(collect_in_child, job, what="calibrating", cancelled=self.cancelled,
                     progress=lambda f: self.progress("calibrate", f))  # fmt: skip

    def _quantize(self, imatrix: Path | None, source: str) -> Path:
        name = output_names(self.checkpoint, self.request.quant)[0]
        if self.request.quant == "F16":
            return self.f16.rename(self.work / name)
        target = self.work / name
        quantize(self.f16, target, self.request.quant, threads=self.request.threads,
                 cancelled=self.cancelled, imatrix=imatrix, label=source)  # fmt: skip
        return target

    def _check(self, text: Path) -> dict[str, Any]:
        from ecgviewer.core.modelimport.verify import conversion_check, perplexities

        if self.cancelled():
            raise Cancelled()
        result = conversion_check(text, self.mmproj, self.progress, self.cancelled)
        reference = self.f16 if self.f16.exists() else None
        result["perplexity"] = perplexities(reference, text, self.work, self.request.threads,
                                            self.cancelled)  # fmt: skip
        return result

    def _source(self) -> dict[str, Any]:
        source = _source(self.checkpoint, self.origin)
        if self.adapter is not None:
            source["lora"] = {"folder": self.adapter.folder.name, "scale": self.adapter.scale}
        return source


def _publish(result: ImportResult, out: Path, cancelled: Callable[[], bool]) -> ImportResult:
    """Hash, write the report, then move the files into `out`: never over an existing file
    (an identical projector from an earlier import is reused), all or nothing."""
    if cancelled():
        raise Cancelled()
    result.sha256 = {"text_model": sha256_file(result.text_model),
                     "mmproj": sha256_file(result.mmproj)}  # fmt: skip
    known = find_known_pair(result.sha256["text_model"], result.sha256["mmproj"], load_manifest())
    result.source["known_pair"] = known.name if known else ""
    imatrix = result.imatrix_file
    published = ImportResult(
        out / result.text_model.name, out / result.mmproj.name, result.sha256, result.quant,
        result.imatrix, result.timings, result.check, result.source,
        out / imatrix.name if imatrix else None,
    )  # fmt: skip
    report = result.text_model.with_name(report_name(result.text_model.name))
    report.write_text(json.dumps(published.to_json(), indent=2), encoding="utf-8")
    moves = [p for p in (imatrix, result.mmproj, report, result.text_model) if p is not None]
    if _same_file_there(result.mmproj, out, result.sha256["mmproj"]):
        moves.remove(result.mmproj)
    _check_not_there(out, tuple(p.name for p in moves))  # again: something may have appeared
    moved: list[Path] = []
    try:
        for source in moves:  # the model file last: a folder never holds it without the rest
            target = out / source.name
            _move_new(source, target)
            moved.append(target)
    except OSError:
        for target in moved:
            target.unlink(missing_ok=True)
        raise
    return published


def report_name(text_model: str) -> str:
    return text_model.removesuffix(".gguf") + "-import.json"


def _same_file_there(source: Path, out: Path, digest: str) -> bool:
    """Whether `out` already holds exactly this file (the projector of an earlier import)."""
    existing = out / source.name
    if not existing.exists():
        return False
    if sha256_file(existing) == digest:
        return True
    raise OutputFolderError(
        f"{out} already holds a different {source.name}; the import never overwrites files.",
        hint="Remove or rename it, or choose another output folder.",
    )


def _move_new(source: Path, target: Path) -> None:
    """Move without ever replacing: a hard link fails if the target exists."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this drive (FAT, some network shares)
        if target.exists():
            raise FileExistsError(target) from None
        os.replace(source, target)
        return
    source.unlink()


def remove_abandoned(out: Path) -> None:
    """Temporary folders of imports that died (a crash, a power cut) more than 12 h ago."""
    for folder in out.glob(".import-*"):
        try:
            if time.time() - folder.stat().st_mtime > 12 * 3600:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def record_in_manifest(manifest: Path, result: ImportResult, checkpoint: Checkpoint) -> None:
    """List the new pair (by both digests) in `manifest`, in models/manifest.json's format."""
    from ecgviewer.core.inference.loaded import is_ecg_model_name

    data = read_json_object(manifest) or {"schema": 1, "pairs": []}
    pairs = [
        p for p in data.get("pairs", []) if p.get("text_sha256") != result.sha256["text_model"]
    ]
    pairs.append({
        "name": f"{checkpoint.folder.name} ({result.quant}, imported)",
        "text_file": result.text_model.name, "text_sha256": result.sha256["text_model"],
        "mmproj_file": result.mmproj.name, "mmproj_sha256": result.sha256["mmproj"],
        "quantization": result.quant,
        "source": f"imported from {checkpoint.folder.name}; imatrix: {result.imatrix}",
        "ecg_model": is_ecg_model_name(checkpoint.folder.name),
    })  # fmt: skip
    data["pairs"] = pairs
    write_json_quietly(manifest, data, what="model manifest")


def _check_not_there(out: Path, names: tuple[str, ...]) -> None:
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
