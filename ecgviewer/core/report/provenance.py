"""What produced each answer: model files, decoding, timings, and the full fingerprints."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from reportlab.platypus import Flowable, Paragraph, Spacer, Table

from ecgviewer.core.case import Case, DecodingSettings, ModelIdentity, Provenance, Turn
from ecgviewer.core.report.markup import inline
from ecgviewer.core.report.pagesize import MM
from ecgviewer.core.report.sections import short_hash
from ecgviewer.core.report.styles import LABEL_FILL, RULE, TABLE_HEAD_FILL, styles, table_style
from ecgviewer.core.report.thread import incomplete_label

NOT_RECORDED = "not recorded"
_DASH = "–"
_STOP_TEXT = {"eos": "complete (end of answer)"}

RunKey = tuple[Provenance | None, DecodingSettings | None]


def file_name(identity: ModelIdentity) -> str:
    """The file name of a model path (Windows or POSIX), without its folder."""
    return PurePath(identity.path.replace("\\", "/")).name or NOT_RECORDED


def answer_numbers(numbers: list[int]) -> str:
    """Return "answer 1" or "answers 1, 2, 4"."""
    joined = ", ".join(str(number) for number in numbers)
    return f"answer{'s' if len(numbers) > 1 else ''} {joined}"


def group_runs(thread: list[Turn]) -> dict[RunKey, list[int]]:
    """Answer numbers (1-based) grouped by the model and decoding that produced them."""
    groups: dict[RunKey, list[int]] = {}
    for number, turn in enumerate(thread, start=1):
        groups.setdefault((turn.provenance, turn.decoding), []).append(number)
    return groups


def _size(size_bytes: int) -> str:
    if size_bytes >= 1024**3:
        return f"{size_bytes / 1024**3:.2f} GiB"
    return f"{size_bytes / 1024**2:.1f} MiB"


def _identity_rows(kind: str, identity: ModelIdentity) -> list[tuple[str, str]]:
    label = "Projector (mmproj) file" if kind == "Projector" else f"{kind} file"
    rows = [(label, file_name(identity)), (f"{kind} SHA-256", short_hash(identity.sha256))]
    details = [identity.architecture, identity.quantization]
    if identity.size_bytes:
        details.append(_size(identity.size_bytes))
    rows.append((f"{kind} details", ", ".join(d for d in details if d) or NOT_RECORDED))
    return rows


def _provenance_rows(provenance: Provenance) -> list[tuple[str, str]]:
    known = provenance.known_pair or "No - this pair is not listed in models/manifest.json"
    ecg = (
        "Yes"
        if provenance.is_ecg_model
        else ("No - small test model; its output is not an ECG interpretation")
    )
    template = "Applied by the server" if provenance.server_url else "From the model file"
    if provenance.fallback_template:
        template = "Fallback: built-in Gemma 3 template (the model file has none)"
    return [
        *_server_rows(provenance),
        *_identity_rows("Model", provenance.model),
        *_identity_rows("Projector", provenance.mmproj),
        ("Known model pair", known),
        ("ECG model", ecg),
        ("Chat template", template),
    ]


def _server_rows(provenance: Provenance) -> list[tuple[str, str]]:
    """Where the answers were computed: an inference server (its URL has no credentials)."""
    if not provenance.server_url:
        return [("Read on", "this computer")]
    served = provenance.served_model or NOT_RECORDED
    return [("Read on", f"inference server {provenance.server_url}"), ("Served model", served)]


def _decoding_rows(decoding: DecodingSettings | None) -> list[tuple[str, str]]:
    if decoding is None:
        return [("Decoding", NOT_RECORDED)]
    flash = "on" if decoding.flash_attn else "off"
    repacked = ", weights repacked" if decoding.repack_weights else ""
    threads = decoding.n_threads or "automatic"
    machine = f"; {decoding.machine}" if decoding.machine else ""
    buffers = f"; weights in {decoding.buffer_types}" if decoding.buffer_types else ""
    return [
        (
            "Decoding",
            f"temperature {decoding.temperature:g}, seed {decoding.seed}, "
            f"at most {decoding.max_tokens} new tokens",
        ),
        (
            "Runtime",
            f"context {decoding.n_ctx} tokens, {threads} threads, "
            f"{decoding.n_gpu_layers} GPU layers, flash attention {flash}{repacked}"
            f"{machine}{buffers}",
        ),
    ]


def _label_table(rows: list[tuple[str, str]], width: float) -> Table:
    st = styles()
    data = [[Paragraph(inline(k), st.cell_head), Paragraph(inline(v), st.cell)] for k, v in rows]
    table = Table(data, colWidths=[48 * MM, width - 48 * MM])
    table.setStyle(
        table_style(
            [
                ("BACKGROUND", (0, 0), (0, -1), LABEL_FILL),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
                ("LINEABOVE", (0, 0), (-1, 0), 0.4, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def run_tables(case: Case, width: float) -> list[Flowable]:
    """One table per distinct model and decoding, naming the answers it produced."""
    st = styles()
    items: list[Flowable] = []
    for (provenance, decoding), numbers in group_runs(case.thread).items():
        rows = [("Used for", answer_numbers(numbers).capitalize())]
        if provenance is None:
            rows.append(("Model", NOT_RECORDED))
        else:
            rows += _provenance_rows(provenance)
        rows += _decoding_rows(decoding)
        items += [_label_table(rows, width), Spacer(1, 3 * MM)]
    if not items:
        items.append(Paragraph("No model was run for this case.", st.body))
    return items


def _duration(ms: float | None) -> str:
    if ms is None:
        return _DASH
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _stop_text(turn: Turn) -> str:
    return _STOP_TEXT.get(str(turn.stop_reason), "") or incomplete_label(turn)


def _timing_row(number: int, turn: Turn) -> list[str]:
    t = turn.timings
    speed = t.tokens_per_second
    return [
        str(number),
        _stop_text(turn),
        _duration(t.model_load_ms),
        _duration(t.image_encode_ms),
        _duration(t.prompt_prefill_ms),
        _duration(t.first_token_ms),
        _duration(t.decode_ms),
        str(t.decode_tokens),
        f"{speed:.1f}" if speed else _DASH,
        _duration(t.total_ms),
    ]


_TIMING_HEAD = [
    "Answer",
    "Stop reason",
    "Model load",
    "Image encode",
    "Prompt prefill",
    "First token",
    "Decode",
    "Tokens",
    "Tokens/s",
    "Total",
]


def timing_table(thread: list[Turn], width: float) -> Table:
    """Where the time went, one row per answer, with how each answer stopped."""
    st = styles()
    head = [Paragraph(inline(text), st.cell_head) for text in _TIMING_HEAD]
    body = [
        [Paragraph(inline(cell), st.cell) for cell in _timing_row(number, turn)]
        for number, turn in enumerate(thread, start=1)
    ]
    narrow = (width - 52 * MM) / 8
    table = Table([head, *body], colWidths=[14 * MM, 38 * MM] + [narrow] * 8, repeatRows=1)
    table.setStyle(table_style(_timing_style()))
    return table


def _timing_style() -> list[tuple[Any, ...]]:
    return [
        ("BACKGROUND", (0, 0), (-1, 0), TABLE_HEAD_FILL),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]


def provenance_section(case: Case, width: float) -> list[Flowable]:
    """The provenance block: what produced the answers, how, and how long it took."""
    st = styles()
    items: list[Flowable] = [Paragraph("Provenance: how the answers were produced", st.h1)]
    items += run_tables(case, width)
    if case.thread:
        items += [Paragraph("Timings", st.h2), timing_table(case.thread, width)]
    return items
