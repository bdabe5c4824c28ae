"""Find a text GGUF + mmproj pair in the folders where users put them.

Files are told apart by their headers (architecture clip = projector), not by
their names, so any naming works; when a folder holds several pairs, the
projector is matched to the text model whose width it feeds.
"""

from __future__ import annotations

from pathlib import Path

from ecgviewer.core.inference.gguf_header import GgufFormatError, read_header
from ecgviewer.core.paths import AppPaths, project_models_dir
from ecgviewer.core.settings import ModelSettings


def search_folders(paths: AppPaths) -> list[Path]:
    """Where the app looks, in order: the project's models/ folder, then the per-user one."""
    return [project_models_dir(), paths.user_models_dir]


def _classify(folder: Path) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
    texts: list[tuple[Path, int]] = []
    projectors: list[tuple[Path, int]] = []
    for file in sorted(folder.glob("*.gguf")):
        try:
            header = read_header(file)
        except (OSError, GgufFormatError):
            continue
        if header.architecture == "clip":
            projectors.append((file, int(header.get("clip.vision.projection_dim", 0) or 0)))
        elif header.architecture == "gemma3":
            texts.append((file, int(header.get("gemma3.embedding_length", 0) or 0)))
    return texts, projectors


def find_pair(folders: list[Path]) -> tuple[Path, Path] | None:
    """The first (text, mmproj) pair of matching width found in `folders`."""
    for folder in folders:
        if not folder.is_dir():
            continue
        texts, projectors = _classify(folder)
        for text, width in texts:
            for projector, projection in projectors:
                if projection == width:
                    return text, projector
    return None


def configured_or_found(settings: ModelSettings, paths: AppPaths) -> tuple[Path, Path] | None:
    """The pair chosen in settings, or else one found in the model folders."""
    if settings.text_path and settings.mmproj_path:
        return Path(settings.text_path), Path(settings.mmproj_path)
    return find_pair(search_folders(paths))
