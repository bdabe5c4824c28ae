"""A tiny PTB-XL-shaped folder for tests: PTB-XL's two tables and real WFDB records.

Columns, file names and cell formats follow PTB-XL 1.0.3 (`scp_codes` a Python
dict literal, `diagnostic` 1.0 or empty, the statements' index column unnamed,
records under records500/ and records100/). Signals are synthetic beats written
with `wfdb.wrsamp`, so the files are what the wfdb library itself writes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")

# code, description, diagnostic, form, rhythm, diagnostic_class, diagnostic_subclass
STATEMENTS = [
    ("NORM", "normal ECG", "1.0", "", "", "NORM", "NORM"),
    ("IMI", "inferior myocardial infarction", "1.0", "", "", "MI", "IMI"),
    ("NDT", "non-diagnostic T abnormalities", "1.0", "1.0", "", "STTC", "STTC"),
    ("CLBBB", "complete left bundle branch block", "1.0", "", "", "CD", "CLBBB"),
    ("LVH", "left ventricular hypertrophy", "1.0", "", "", "HYP", "LVH"),
    ("LVOLT", "low QRS voltages in the frontal and horizontal leads", "", "1.0", "", "", ""),
    ("SR", "sinus rhythm", "", "", "1.0", "", ""),
]

# ecg_id, scp_codes, strat_fold, rates written (500 and/or 100 Hz), expected gold ("" = dropped)
RECORDS = [
    (1, "{'NORM': 100.0, 'SR': 0.0}", 10, (500, 100), "NORM"),
    (2, "{'IMI': 50.0, 'NDT': 100.0, 'SR': 0.0}", 10, (500, 100), "MI, STTC"),
    (3, "{'LVOLT': 100.0, 'SR': 0.0}", 10, (500, 100), ""),  # no diagnostic code: dropped
    (4, "{'CLBBB': 100.0, 'LVH': 0.0}", 10, (100,), "CD, HYP"),  # likelihood 0 counts; 100 Hz only
    (5, "{'NORM': 80.0}", 9, (500, 100), "NORM"),  # another fold
]
DATABASE_COLUMNS = ["ecg_id", "patient_id", "age", "sex", "report", "scp_codes", "strat_fold",
                    "filename_lr", "filename_hr"]  # fmt: skip


def record_name(ecg_id: int, rate: int) -> str:
    """records500/00000/00001_hr, as PTB-XL names its files."""
    suffix = "hr" if rate == 500 else "lr"
    return f"records{rate}/{ecg_id // 1000 * 1000:05d}/{ecg_id:05d}_{suffix}"


def write_ptbxl(folder: Path, records: list[tuple[int, str, int, tuple[int, ...], str]] = RECORDS
                ) -> Path:  # fmt: skip
    """Write the two tables and every record's WFDB files into `folder`; returns it."""
    import wfdb  # type: ignore[import-untyped]

    folder.mkdir(parents=True, exist_ok=True)
    _write_statements(folder / "scp_statements.csv")
    _write_database(folder / "ptbxl_database.csv", records)
    for ecg_id, _codes, _fold, rates, _gold in records:
        for rate in rates:
            base = folder / record_name(ecg_id, rate)
            base.parent.mkdir(parents=True, exist_ok=True)
            signal = synthetic_signal(rate, heart_rate=55 + 10 * ecg_id)
            wfdb.wrsamp(base.name, fs=rate, units=["mV"] * 12, sig_name=list(LEADS),
                        p_signal=signal, fmt=["16"] * 12, adc_gain=[1000.0] * 12,
                        baseline=[0] * 12, write_dir=str(base.parent))  # fmt: skip
    return folder


def _write_statements(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "description", "diagnostic", "form", "rhythm", "diagnostic_class",
                         "diagnostic_subclass"])  # fmt: skip
        writer.writerows(STATEMENTS)


def _write_database(path: Path, records: list[tuple[int, str, int, tuple[int, ...], str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(DATABASE_COLUMNS)
        for ecg_id, codes, fold, _rates, _gold in records:
            writer.writerow([ecg_id, 100 + ecg_id, 56.0, 1, "sinusrhythmus, normales ekg", codes,
                             fold, record_name(ecg_id, 100), record_name(ecg_id, 500)])  # fmt: skip


def synthetic_signal(rate: int, *, heart_rate: float = 70.0, seconds: float = 10.0) -> np.ndarray:
    """Twelve leads of simple P-QRS-T beats in mV, shape (samples, 12)."""
    t = np.arange(int(rate * seconds)) / rate
    phase = (t * heart_rate / 60.0) % 1.0
    beat = (0.15 * np.exp(-(((phase - 0.15) / 0.025) ** 2))
            + 1.0 * np.exp(-(((phase - 0.30) / 0.008) ** 2))
            - 0.2 * np.exp(-(((phase - 0.33) / 0.008) ** 2))
            + 0.3 * np.exp(-(((phase - 0.55) / 0.05) ** 2)))  # fmt: skip
    gains = np.linspace(-0.8, 1.2, 12)
    return np.round(np.outer(beat, gains), 3)
