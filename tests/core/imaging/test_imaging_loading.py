"""Opening every supported format, and refusing bad input with a clear message."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ecgviewer.core.errors import ImageError
from ecgviewer.core.imaging.loading import (
    MAX_PIXELS,
    SUPPORTED_SUFFIXES,
    load_image,
    supported_suffixes,
)

MM = 72 / 25.4  # PDF points per millimetre


def _rgb_pattern(width: int = 64, height: int = 48) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 4 % 256, y * 5 % 256, (x + y) % 256], axis=2).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def test_supported_suffixes_cover_the_formats() -> None:
    assert supported_suffixes() == SUPPORTED_SUFFIXES
    for suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".pdf"):
        assert suffix in SUPPORTED_SUFFIXES


@pytest.mark.parametrize(
    ("suffix", "pil_format", "name"),
    [
        (".png", "PNG", "PNG"),
        (".bmp", "BMP", "BMP"),
        (".tif", "TIFF", "TIFF"),
        (".webp", "WEBP", "WEBP"),
    ],
)
def test_lossless_formats_load_exactly(
    tmp_path: Path, suffix: str, pil_format: str, name: str
) -> None:
    source = _rgb_pattern()
    path = tmp_path / f"scan{suffix}"
    source.save(path, format=pil_format, **({"lossless": True} if pil_format == "WEBP" else {}))
    loaded = load_image(path)
    assert loaded.format == name
    assert loaded.image.mode == "RGB"
    assert (loaded.page, loaded.page_count) == (0, 1)
    assert np.array_equal(np.asarray(loaded.image), np.asarray(source))


def test_jpeg_loads_as_rgb(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    _rgb_pattern().save(path, quality=95)
    loaded = load_image(path)
    assert loaded.format == "JPEG" and loaded.image.size == (64, 48) and loaded.image.mode == "RGB"


def test_format_comes_from_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "really-a-png.jpg"
    _rgb_pattern().save(path, format="PNG")
    assert load_image(path).format == "PNG"


def test_sixteen_bit_gray_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (8, 1))
    path = tmp_path / "gray16.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")
    pixels = np.asarray(load_image(path).image)
    assert pixels[0, 0].tolist() == [0, 0, 0]
    assert pixels[0, -1].tolist() == [255, 255, 255]
    assert 120 <= pixels[0, 128, 0] <= 135  # mid-grey, not saturated white


def test_palette_and_one_bit_images(tmp_path: Path) -> None:
    palette = tmp_path / "palette.png"
    _rgb_pattern().convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(palette)
    assert load_image(palette).image.mode == "RGB"
    bilevel = tmp_path / "fax.tif"
    Image.new("1", (40, 30), 1).save(bilevel)
    assert np.asarray(load_image(bilevel).image).min() == 255


def test_transparency_becomes_white_paper(tmp_path: Path) -> None:
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[:, :15] = (200, 0, 0, 255)  # opaque red on the left, fully transparent on the right
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    pixels = np.asarray(load_image(path).image)
    assert pixels[5, 5].tolist() == [200, 0, 0]
    assert pixels[5, 25].tolist() == [255, 255, 255]


def test_transparent_palette_entry_becomes_white(tmp_path: Path) -> None:
    image = Image.new("P", (10, 10), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 5, 10))
    path = tmp_path / "ptrans.png"
    image.save(path, transparency=0)
    pixels = np.asarray(load_image(path).image)
    assert pixels[0, 0].tolist() == [255, 0, 0] and pixels[0, 9].tolist() == [255, 255, 255]


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (32, 24), (0, 255, 255, 0)).save(path, quality=95)  # red ink
    red = np.asarray(load_image(path).image)[12, 16]
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


def test_multipage_tiff_pages(tmp_path: Path) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (20, 10), c) for c in colours]
    path = tmp_path / "pages.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    for index, colour in enumerate(colours):
        loaded = load_image(path, page=index)
        assert (loaded.page, loaded.page_count) == (index, 3)
        assert np.asarray(loaded.image)[5, 5].tolist() == list(colour)
    with pytest.raises(ImageError, match="3 pages"):
        load_image(path, page=3)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    source = Image.new("RGB", (40, 20), (255, 255, 255))
    source.paste((0, 0, 0), (0, 0, 10, 20))  # black band on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: display needs a 90-degree clockwise turn
    path = tmp_path / "phone.jpg"
    source.save(path, exif=exif.tobytes(), quality=95)
    image = load_image(path).image
    assert image.size == (20, 40)
    pixels = np.asarray(image)
    assert pixels[2, 10].mean() < 60  # the left band is now along the top
    assert pixels[-3, 10].mean() > 200


def test_the_file_is_never_modified(tmp_path: Path) -> None:
    from ecgviewer.core.imaging.pipeline import auto_preprocess

    path = tmp_path / "scan.png"
    _rgb_pattern(300, 200).save(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    stamp = path.stat().st_mtime_ns
    auto_preprocess(load_image(path).image).result.save(tmp_path / "out.png")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert path.stat().st_mtime_ns == stamp


# --- bad input -------------------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with one tiny data chunk: never decodable."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height"), [(11_000, 10_000), (40_000, 40_000)])
def test_decompression_bomb_is_refused_before_decoding(
    tmp_path: Path, width: int, height: int
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(width, height))
    assert width * height > MAX_PIXELS
    with pytest.raises(ImageError, match="too large") as caught:
        load_image(path)
    assert "megapixels" in str(caught.value)


def test_truncated_png(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    _rgb_pattern(400, 300).save(buffer, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageError, match="damaged or incomplete"):
        load_image(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(path)


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("Patient notes, not an image\n" * 20)
    with pytest.raises(ImageError, match="not an image"):
        load_image(path)


def test_missing_path_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "nowhere.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs file permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.png"
    _rgb_pattern().save(path)
    path.chmod(0)
    try:
        with pytest.raises(ImageError, match="permission"):
            load_image(path)
    finally:
        path.chmod(0o600)


def test_errors_keep_the_technical_cause(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(ImageError) as caught:
        load_image(path)
    assert caught.value.__cause__ is not None
    assert "Traceback" not in str(caught.value)


# --- PDF ----------------------------------------------------------------------------


def _write_pdf(path: Path, pages: list[str]) -> None:
    """A US Letter landscape PDF; each page is 'text' or 'grid' (an ECG-like 1 mm grid)."""
    from reportlab.lib.pagesizes import landscape, letter
    from reportlab.pdfgen import canvas

    doc = canvas.Canvas(str(path), pagesize=landscape(letter))
    for kind in pages:
        if kind == "grid":
            _draw_grid(doc)
        doc.setFont("Helvetica", 14)
        doc.drawString(40, 560, f"Page type: {kind}. Vent. rate 72 BPM  PR 160 ms")
        doc.showPage()
    doc.save()


def _draw_grid(doc: object) -> None:
    left, bottom, columns, rows = 15 * MM, 15 * MM, 250, 170
    for i in range(columns + 1):
        doc.setStrokeColorRGB(0.93, 0.5, 0.5) if i % 5 == 0 else doc.setStrokeColorRGB(1, 0.8, 0.8)  # type: ignore[attr-defined]
        doc.setLineWidth(0.6 if i % 5 == 0 else 0.25)  # type: ignore[attr-defined]
        doc.line(left + i * MM, bottom, left + i * MM, bottom + rows * MM)  # type: ignore[attr-defined]
    for j in range(rows + 1):
        doc.setStrokeColorRGB(0.93, 0.5, 0.5) if j % 5 == 0 else doc.setStrokeColorRGB(1, 0.8, 0.8)  # type: ignore[attr-defined]
        doc.setLineWidth(0.6 if j % 5 == 0 else 0.25)  # type: ignore[attr-defined]
        doc.line(left, bottom + j * MM, left + columns * MM, bottom + j * MM)  # type: ignore[attr-defined]


def test_pdf_renders_at_200_dpi_and_picks_the_first_grid_page(tmp_path: Path) -> None:
    path = tmp_path / "cart.pdf"
    _write_pdf(path, ["text", "grid", "grid"])
    loaded = load_image(path)
    assert loaded.format == "PDF"
    assert (loaded.page, loaded.page_count) == (1, 3)
    assert loaded.image.size == (2200, 1700)  # 11 x 8.5 in at 200 dpi
    assert loaded.image.mode == "RGB"


def test_pdf_explicit_page_and_range(tmp_path: Path) -> None:
    path = tmp_path / "cart.pdf"
    _write_pdf(path, ["text", "grid"])
    assert load_image(path, page=0).page == 0
    with pytest.raises(ImageError, match="2 pages"):
        load_image(path, page=5)


def test_pdf_without_grid_opens_on_first_page(tmp_path: Path) -> None:
    path = tmp_path / "letter.pdf"
    _write_pdf(path, ["text", "text"])
    assert load_image(path).page == 0


def test_encrypted_pdf(tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    plain = tmp_path / "plain.pdf"
    _write_pdf(plain, ["grid"])
    writer = pypdf.PdfWriter()
    for page in pypdf.PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt("secret")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as stream:
        writer.write(stream)
    with pytest.raises(ImageError, match="password"):
        load_image(locked)


def test_pdf_without_pages(tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    path = tmp_path / "nopages.pdf"
    with path.open("wb") as stream:
        pypdf.PdfWriter().write(stream)
    with pytest.raises(ImageError, match="no pages"):
        load_image(path)


def test_damaged_pdf(tmp_path: Path) -> None:
    good = tmp_path / "good.pdf"
    _write_pdf(good, ["grid"])
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ImageError, match="damaged"):
        load_image(broken)
