"""`ecgviewer render RECORD`: draw a digital ECG recording as a paper page.

    ecgviewer render RECORD [--layout 3x4+1|6x2|12x1] [--speed 25] [--gain 10]
                            [--out FILE.png|FILE.pdf]

The page is the one the window shows for the recording (ECG-Image-Kit's defaults:
US Letter at 200 dpi, 3x4 plus a lead II rhythm strip, 25 mm/s, 10 mm/mV). Without
--out it is written beside the record as RECORD-page.png; the path goes to stdout.
Exit codes: 0 ok, 2 bad input.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from ecgviewer.core.atomic import write_atomically
from ecgviewer.core.digital.render_settings import LAYOUTS
from ecgviewer.core.errors import InputError

FORMATS = {".png": "PNG", ".pdf": "PDF"}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "render",
        help="draw a digital ECG (WFDB, DICOM, XML, SCP) as a 12-lead paper page",
        description=(
            "Draw a digital ECG recording as a standard paper page, as the window shows it "
            "and as the model sees it. The recording is never changed."
        ),
    )
    parser.add_argument("record", type=Path, help="digital ECG file (WFDB .hea, DICOM, XML, SCP)")
    parser.add_argument("--layout", choices=tuple(LAYOUTS), default="3x4+1", help="page layout")
    parser.add_argument("--speed", type=float, default=25.0, help="paper speed, mm/s")
    parser.add_argument("--gain", type=float, default=10.0, help="gain, mm/mV")
    parser.add_argument("--out", type=Path, help="PNG or PDF to write (default RECORD-page.png)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ecgviewer.core.digital.readers import read_record
    from ecgviewer.core.digital.render import RenderSettings, render_page

    out = args.out or args.record.with_name(args.record.stem + "-page.png")
    kind = FORMATS.get(out.suffix.lower())
    if kind is None:
        raise InputError(f"--out must end in .png or .pdf, not {out.name!r}.")
    settings = RenderSettings(layout=args.layout, speed_mm_s=args.speed, gain_mm_mv=args.gain)
    page = render_page(read_record(args.record), settings)
    buffer = io.BytesIO()
    page.image.save(buffer, format=kind, resolution=settings.dpi)
    write_atomically(buffer.getvalue(), out, what="the page")
    print(out)
    return 0
