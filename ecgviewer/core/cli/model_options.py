"""The model options `interpret` and `chat` share, and loading the model they name."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ecgviewer import DISCLAIMER
from ecgviewer.core.errors import InputError, ModelError
from ecgviewer.core.inference.backend import AnsweringModel, ReadingBackend
from ecgviewer.core.inference.discovery import configured_or_found
from ecgviewer.core.inference.loaded import LoadedModel
from ecgviewer.core.inference.runtime import ModelRuntime
from ecgviewer.core.paths import AppPaths, app_paths
from ecgviewer.core.settings import ModelSettings, load_settings
from ecgviewer.core.workspace import OpenCase, open_case

if TYPE_CHECKING:  # httpx loads only when a server is used
    from ecgviewer.core.inference.remote import RemoteRuntime


def add_image_and_model_options(parser: argparse.ArgumentParser) -> None:
    """IMAGE, its page, the model pair and how it runs."""
    parser.add_argument("image", type=Path, help="ECG image or PDF")
    parser.add_argument("--page", type=int, default=None, help="page of a PDF/TIFF (1-based)")
    parser.add_argument("--model", type=Path, help="text model GGUF")
    parser.add_argument("--mmproj", type=Path, help="vision projector GGUF")
    parser.add_argument("--max-tokens", type=int, help="new tokens at most (default 512)")
    parser.add_argument("--seed", type=int, help="sampling seed (default 42)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: physical cores)")
    parser.add_argument("--gpu-layers", type=int, help="layers to offload to a GPU (default 0)")
    parser.add_argument("--ctx", type=int, help="context length (default 4096)")
    parser.add_argument("--no-preprocess", action="store_true", help="send the image as decoded")
    parser.add_argument("--server", metavar="URL",
                        help="read on this OpenAI-compatible inference server instead of this "
                        "computer (https, or http for 127.0.0.1/localhost); the API key comes "
                        "from the credential store or ECGVIEWER_SERVER_KEY")  # fmt: skip


def model_settings(args: argparse.Namespace, base: ModelSettings) -> ModelSettings:
    """The stored settings with the command line's options over them."""
    overrides = {
        "max_tokens": args.max_tokens, "seed": args.seed, "n_threads": args.threads,
        "n_gpu_layers": args.gpu_layers, "n_ctx": args.ctx,
    }  # fmt: skip
    for key, value in overrides.items():
        if value is not None:
            setattr(base, key, value)
    if base.max_tokens < 1:
        raise InputError("--max-tokens must be at least 1.")
    return base


def model_pair(args: argparse.Namespace, settings: ModelSettings) -> tuple[Path, Path]:
    """--model/--mmproj, else the configured pair, else one found in the models folders."""
    if args.model or args.mmproj:
        if not (args.model and args.mmproj):
            raise ModelError("Give both --model and --mmproj (the text GGUF and its projector).")
        return args.model, args.mmproj
    found = configured_or_found(settings, app_paths())
    if found is None:
        raise ModelError(
            "No model is configured and none was found in the models folders.",
            hint="Pass --model TEXT.gguf --mmproj MMPROJ.gguf, or see models/README.md.",
        )
    return found


def open_image(args: argparse.Namespace) -> OpenCase:
    """IMAGE (its --page), straightened unless --no-preprocess."""
    page = None if args.page is None else args.page - 1
    return open_case(args.image, page=page, preprocess=not args.no_preprocess)


def load_model(args: argparse.Namespace, paths: AppPaths, runtime: ModelRuntime) -> LoadedModel:
    """Load the pair the options name into `runtime` (this thread is its model thread)."""
    settings = model_settings(args, load_settings(paths).model)
    text_path, mmproj_path = model_pair(args, settings)
    return runtime.load(text_path, mmproj_path, settings)


def open_backend(args: argparse.Namespace, paths: AppPaths) -> ReadingBackend:
    """The backend the options name, ready to answer (this thread is its model thread):
    the inference server of --server, else the local pair (loaded here)."""
    if getattr(args, "server", None):
        if args.model or args.mmproj:
            raise InputError("Give either --server or --model/--mmproj, not both.")
        return connect_server(args, paths)
    runtime = ModelRuntime(paths)
    try:
        load_model(args, paths, runtime)
    except BaseException:
        runtime.close()
        raise
    return runtime


def connect_server(args: argparse.Namespace, paths: AppPaths) -> RemoteRuntime:
    """Connect to --server with the stored certificate settings; nothing is loaded here."""
    from ecgviewer.core.inference.remote import RemoteRuntime
    from ecgviewer.core.inference.server_config import server_config

    settings = load_settings(paths)
    config = server_config(settings.server, args.server)
    remote = RemoteRuntime(config, paths, model_settings(args, settings.model))
    try:
        remote.connect()
    except BaseException:
        remote.close()
        raise
    return remote


def print_model_notes(loaded: AnsweringModel, *, disclaimer: bool) -> None:
    """Settings not applied, then either the non-ECG note or (when asked) the disclaimer."""
    provenance = loaded.provenance
    if provenance.server_url:
        print(f"note: reading on {provenance.server_url} (served model "
              f"{provenance.served_model}).", file=sys.stderr)  # fmt: skip
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    if not loaded.provenance.is_ecg_model:
        print(f"note: {loaded.display_name} is not an ECG model; its text is not an ECG "
              "interpretation.", file=sys.stderr)  # fmt: skip
    elif disclaimer:
        print(f"[{DISCLAIMER}]", file=sys.stderr)
