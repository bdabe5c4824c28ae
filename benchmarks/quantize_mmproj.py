"""Write a Q8_0 copy of a vision projector, to time its encode against F16 (benchmarks only).

    python benchmarks/quantize_mmproj.py [--mmproj IN.gguf] [--out OUT.gguf]

Every 2-D ".weight" matrix whose rows are a multiple of 32 values is stored as
Q8_0 (blocks of 32 int8 values with one F16 scale, quantized with gguf-py);
everything else (norms, biases, the patch-embedding convolution, position
embeddings, matrices whose rows do not divide into blocks) is copied as it is.
Metadata is copied and general.file_type set to Q8_0. Default input: the
stand-in projector written by make_standin.py. This is for measuring speed;
whether a Q8_0 projector reads ECGs as well as F16 is a separate question
that needs the real weights and a labelled set (see docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.make_standin import MMPROJ_NAME  # noqa: E402
from tests.support import models  # noqa: E402

SKIPPED = ("patch_embd", "position_embd")  # kept in full precision, as llama.cpp does
FILE_TYPE_Q8_0 = 7  # llama_ftype MOSTLY_Q8_0


def should_quantize(tensor: Any) -> bool:
    import gguf

    return (
        tensor.name.endswith(".weight")
        and len(tensor.shape) == 2
        and int(tensor.shape[0]) % 32 == 0
        and tensor.tensor_type in (gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.F32)
        and not any(part in tensor.name for part in SKIPPED)
    )


def copy_metadata(reader: Any, writer: Any) -> None:
    import gguf

    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue  # written by GGUFWriter itself
        if name == "general.file_type":
            writer.add_uint32(name, FILE_TYPE_Q8_0)
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), kind, sub_type=sub)


def main() -> int:
    import gguf

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mmproj", type=Path, default=models.cache_dir() / MMPROJ_NAME)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or args.mmproj.with_name(args.mmproj.name.replace("F16", "Q8_0"))
    if out == args.mmproj:
        parser.error("--out must differ from --mmproj")
    reader = gguf.GGUFReader(str(args.mmproj))
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(str(out), arch)
    copy_metadata(reader, writer)
    quantized = 0
    for tensor in reader.tensors:
        if should_quantize(tensor):
            values = np.asarray(tensor.data, dtype=np.float32)
            data = gguf.quants.quantize(values, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(tensor.name, data, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
            quantized += 1
        else:
            writer.add_tensor(tensor.name, np.asarray(tensor.data), raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"{out} ({out.stat().st_size / 1024**2:.0f} MB): {quantized} of "
          f"{len(reader.tensors)} tensors as Q8_0")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
