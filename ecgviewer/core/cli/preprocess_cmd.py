"""`ecgviewer preprocess INPUT`: the window's straightening, on the command line.

    ecgviewer preprocess INPUT [--page N] [--out OUTPUT.png] [--json] [--no-auto]
                               [--rotate DEG] [--crop X0,Y0,X1,Y1] [--model-input OUT.png]

With --json, one JSON object goes to stdout: `transform` (3x3 row-major
homography from input pixels, as decoded, to output pixels), `output_size`
[w, h], `steps` (ordered, with parameters), `suggestion` (a turn proposed but not
applied, or null), `notes` (sentences about the result the user should know,
e.g. that the sheet's edges were not found with confidence), `elapsed_ms`
(the pipeline, decoding and encoding excluded) and `source` ("image"). A digital
recording (WFDB, DICOM, vendor XML, SCP-ECG) is drawn as a page first and is not
straightened: `source` is "signal", `transform` the identity, `steps` holds its
"render" step, and `renderer` (settings), `px_per_mm`, `recording` (its facts) and
`files` (name and SHA-256 of each of its files) are added. Exit codes: 0 ok, 2 bad
input (the reader's message for a recording it cannot read).
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path
from typing import Any

from PIL import Image

from ecgviewer.core.atomic import write_atomically
from ecgviewer.core.digital.case_page import is_digital_file, open_recording
from ecgviewer.core.digital.facts_text import RENDER_OP, facts_lines, renderer_text
from ecgviewer.core.errors import InputError
from ecgviewer.core.imaging.ecgimage import EcgImage
from ecgviewer.core.imaging.loading import LoadedImage, load_image
from ecgviewer.core.imaging.model_input import model_input_image
from ecgviewer.core.imaging.options import PreprocessOptions
from ecgviewer.core.imaging.pipeline import run_pipeline
from ecgviewer.core.imaging.steps import Step
from ecgviewer.core.workspace import png_bytes


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "preprocess",
        help="find the paper, straighten and crop an ECG image or PDF page",
        description=(
            "Find the sheet in a scan, photo or PDF page, straighten it and crop it, and "
            "report exactly what was done. The input file is never changed."
        ),
    )
    parser.add_argument(
        "input",
        type=Path,
        help="ECG image (PNG, JPEG, TIFF, BMP, WebP), PDF, "
        "or digital ECG (WFDB .hea/.dat/.mat, DICOM, vendor XML, SCP-ECG)",
    )
    for flags, options in _OPTIONS:
        parser.add_argument(*flags, **options)
    parser.set_defaults(handler=run)


_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--page",), {"type": int, "help": "page of a PDF or TIFF, 1-based "
                   "(default: the first PDF page showing an ECG grid)"}),
    (("--out",), {"type": Path, "help": "write the straightened image (PNG)"}),
    (("--json",), {"action": "store_true", "help": "print one JSON object to stdout"}),
    (("--no-auto",), {"action": "store_true",
                      "help": "no automatic steps; only --rotate and --crop are applied"}),
    (("--rotate",), {"type": float, "metavar": "DEG", "help": "rotation instead of the detected "
                     "skew; positive: the content appears turned clockwise and is turned back"}),
    (("--crop",), {"metavar": "X0,Y0,X1,Y1", "help": "crop box in pixels of the image just "
                   "before cropping (the input as decoded with --no-auto and no --rotate)"}),
    (("--model-input",), {"type": Path, "metavar": "OUT.png",
                          "help": "write the exact 896x896 image the model receives"}),
)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Preprocess one file as asked; raises InputError/ImageError for bad input."""
    manual = _manual_steps(args)
    page = _page_index(args.page)
    for target in (args.out, args.model_input):
        if target is not None:
            _check_writable(target)
    loaded, given, about = _open_input(args.input, page)
    options = PreprocessOptions.none() if args.no_auto or given else PreprocessOptions()
    started = time.perf_counter()
    ecg = run_pipeline(loaded.image, options, {**given, **manual})
    result = ecg.result
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    if args.out is not None:
        _write_png_atomically(result, args.out)
    if args.model_input is not None:  # the very bytes the model receives
        data = png_bytes(model_input_image(result))
        write_atomically(data, args.model_input, what="the model input")
    if args.json:
        report = _report(ecg, loaded.page, loaded.page_count, loaded.format, elapsed_ms)
        print(json.dumps({**report, **about}))
    elif args.out is None and args.model_input is None:
        print(_summary(ecg))
    return 0


def _open_input(
    path: Path, page: int | None
) -> tuple[LoadedImage, dict[str, Step], dict[str, Any]]:
    """The decoded input, the steps that made it (a drawn page's "render") and what to report
    about its source."""
    if not is_digital_file(path):
        return load_image(path, page), {}, {"source": "image"}
    drawn = open_recording(path)
    params = drawn.step.params
    about = {"source": "signal", "renderer": drawn.page.settings_json(),
             "px_per_mm": round(drawn.page.px_per_mm, 4), "recording": params["recording"],
             "files": params["files"]}  # fmt: skip
    loaded = LoadedImage(drawn.image, path, 0, 1, drawn.record.format)
    return loaded, {RENDER_OP: drawn.step}, about


def _page_index(page: int | None) -> int | None:
    if page is None:
        return None
    if page < 1:
        raise InputError(f"--page must be 1 or more (pages are numbered from 1), not {page}.")
    return page - 1


def _manual_steps(args: argparse.Namespace) -> dict[str, Step]:
    manual: dict[str, Step] = {}
    if args.rotate is not None:
        manual.update(_rotation_steps(float(args.rotate)))
    if args.crop is not None:
        manual["crop"] = Step("crop", {"box": _parse_box(args.crop)}, "manual")
    return manual


def _rotation_steps(angle: float) -> dict[str, Step]:
    """A manual rotation; whole quarter turns are done exactly, the rest by resampling."""
    quarters = round(angle / 90.0)
    residual = round(angle - 90.0 * quarters, 6)
    steps = {"deskew": Step("deskew", {"angle_deg": residual}, "manual")}
    if quarters % 4:
        # a positive angle turns the image counter-clockwise
        steps["rotate90"] = Step("rotate90", {"turns_cw": (-quarters) % 4}, "manual")
    return steps


def _parse_box(text: str) -> list[int]:
    try:
        values = [round(float(v)) for v in text.split(",")]
    except ValueError as exc:
        raise InputError(f"--crop needs four numbers X0,Y0,X1,Y1, not '{text}'.") from exc
    if len(values) != 4:
        raise InputError(f"--crop needs four numbers X0,Y0,X1,Y1, not '{text}'.")
    x0, y0, x1, y1 = values
    if x1 <= x0 or y1 <= y0:
        raise InputError(f"--crop box {text} is empty: X1 must exceed X0 and Y1 exceed Y0.")
    return values


def _check_writable(target: Path) -> None:
    folder = target.resolve().parent
    if not folder.is_dir():
        raise InputError(f"Cannot write {target}: the folder {folder} does not exist.")
    if target.exists() and target.is_dir():
        raise InputError(f"Cannot write {target}: it is a folder.")


def _write_png_atomically(image: Image.Image, target: Path) -> None:
    """Write `image` as PNG all at once or not at all (`StorageError` says why)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_atomically(buffer.getvalue(), target, what="the image")


def _report(
    ecg: EcgImage, page: int, page_count: int, fmt: str, elapsed_ms: float
) -> dict[str, Any]:
    return {
        "input_size": list(ecg.original.size),
        "output_size": list(ecg.output_size),
        "transform": [[float(v) for v in row] for row in ecg.transform],
        "steps": ecg.steps_json(),
        "suggestion": ecg.suggestion_json(),
        "notes": list(ecg.notes),
        "elapsed_ms": round(elapsed_ms, 1),
        "page": page + 1,
        "page_count": page_count,
        "format": fmt,
    }


def _summary(ecg: EcgImage) -> str:
    width, height = ecg.output_size
    lines = [f"{ecg.original.size[0]}x{ecg.original.size[1]} -> {width}x{height}"]
    for step in ecg.steps:
        if step.op == RENDER_OP:
            lines.append(f"  drawn from the signal by {renderer_text(step.params)}")
            lines += [f"  {line}" for line in facts_lines(step.params)]
        else:
            lines.append(f"  {step.op} ({step.source}): {_params(step)}")
    if all(step.op == RENDER_OP for step in ecg.steps):
        lines.append("  no changes")
    if ecg.orientation_suggestion is not None:
        turns = int(ecg.orientation_suggestion.params["turns_cw"])
        lines.append(f"  suggested: turn {90 * turns} degrees clockwise (not applied)")
    lines += [f"  note: {note}" for note in ecg.notes]
    return "\n".join(lines)


def _params(step: Step) -> str:
    return ", ".join(f"{k}={v}" for k, v in step.to_json().items() if k not in ("op", "source"))
