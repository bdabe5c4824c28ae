"""An opened case: the decoded file, its straightened image, the record, and the model input.

`open_case()` is what the window's drop, File > Open and the CLI's `interpret`
all call: decode the file, run the automatic preprocessing, and keep the exact
PNG bytes the model will receive (so the preview shows precisely what is sent).
Pure core: no Qt; safe to call from a background thread.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image

from ecgviewer.core.case import Case, SourceInfo, now_iso
from ecgviewer.core.digital.case_page import is_digital_file, open_recording
from ecgviewer.core.imaging.ecgimage import EcgImage
from ecgviewer.core.imaging.loading import LoadedImage, load_image
from ecgviewer.core.imaging.model_input import model_input_image
from ecgviewer.core.imaging.options import PreprocessOptions
from ecgviewer.core.imaging.pipeline import auto_preprocess
from ecgviewer.core.study_proposals import propose_from_pdf


def png_bytes(image: Image.Image) -> bytes:
    """Lossless PNG encoding (what is sent to the model: no JPEG artefacts)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@dataclass
class OpenCase:
    """One opened ECG page and everything the app derived from it."""

    source: LoadedImage
    image: EcgImage
    case: Case
    proposals: dict[str, str] = field(default_factory=dict)  # study fields the file carries
    scan: bytes | None = field(default=None, repr=False)  # kept as the case's scan; None: the file
    _model_input: Image.Image | None = field(default=None, repr=False)
    _model_png: bytes | None = field(default=None, repr=False)

    @property
    def original(self) -> Image.Image:
        return self.image.original

    @property
    def result(self) -> Image.Image:
        return self.image.result

    @property
    def steps(self) -> list[dict[str, object]]:
        return self.image.steps_json()

    @property
    def page(self) -> int:
        return self.source.page

    @property
    def page_count(self) -> int:
        return self.source.page_count

    def model_input(self) -> Image.Image:
        """The exact pixels the model receives (computed once per edit)."""
        if self._model_input is None:
            self._model_input = model_input_image(self.image.result)
        return self._model_input

    def model_png(self) -> bytes:
        """The PNG bytes sent to the model; their hash keys the prepared state."""
        if self._model_png is None:
            self._model_png = png_bytes(self.model_input())
        return self._model_png

    def with_image(self, image: EcgImage) -> OpenCase:
        """This case after an edit, as a new value: nothing of this one changes.

        The new record is a copy whose steps follow the image; the case id, the
        thread (the same list, so an answer streaming meanwhile lands in both),
        notes and study carry over. Safe on a background thread.
        """
        case = replace(self.case, steps=image.steps_json(), updated_at=now_iso())
        return OpenCase(self.source, image, case, self.proposals, self.scan)

    def succeeding(self, current: OpenCase) -> OpenCase:
        """This edit as the successor of `current` as it is now, to be swapped in (owner thread).

        The record is `current`'s (notes typed, a case id that arrived while
        the edit ran) with this edit's steps; the encoded model input is kept.
        """
        case = replace(current.case, steps=self.case.steps, updated_at=self.case.updated_at)
        return replace(self, case=case, proposals=current.proposals)


def open_case(
    path: Path, *, page: int | None = None, preprocess: bool = True,
    options: PreprocessOptions | None = None,
) -> OpenCase:  # fmt: skip
    """Decode `path` (page 0-based) and straighten it; raises ImageError on bad input.

    A digital recording (WFDB, DICOM, vendor XML, SCP-ECG) is drawn as a page instead;
    it is already straight, so nothing is detected on it (DigitalEcgError on bad input).
    """
    if is_digital_file(Path(path)):
        return _open_recording(Path(path))
    loaded = load_image(Path(path), page=page)
    if preprocess:
        image = auto_preprocess(loaded.image, options)
    else:
        image = EcgImage(loaded.image, options=PreprocessOptions.none())
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    stamp = now_iso()
    case = Case(
        source=SourceInfo(
            path=str(path), name=Path(path).name, page=loaded.page,
            page_count=loaded.page_count, sha256=digest, format=loaded.format,
        ),
        steps=image.steps_json(), created_at=stamp, updated_at=stamp,
    )  # fmt: skip
    proposals = propose_from_pdf(Path(path), loaded.page) if loaded.format == "PDF" else {}
    opened = OpenCase(loaded, image, case, proposals)
    opened.model_png()  # encode now, on the caller's (background) thread
    return opened


def _open_recording(path: Path) -> OpenCase:
    """A digital recording's case: its drawn page, one "render" step, the file's study fields.

    The case's scan (what the history keeps) is the page's PNG, whose hash is the
    source's `sha256`; the recording's own files are fingerprinted in the step.
    """
    drawn = open_recording(path)
    loaded = LoadedImage(drawn.image, path, 0, 1, drawn.record.format)
    image = EcgImage(drawn.image, (drawn.step,), options=PreprocessOptions.none())
    stamp, digest, fmt = now_iso(), hashlib.sha256(drawn.png).hexdigest(), drawn.record.format
    case = Case(
        source=SourceInfo(path=str(path), name=path.name, sha256=digest, format=fmt),
        steps=image.steps_json(), created_at=stamp, updated_at=stamp,
    )  # fmt: skip
    opened = OpenCase(loaded, image, case, dict(drawn.record.study), drawn.png)
    opened.model_png()  # encode now, on the caller's (background) thread
    return opened
