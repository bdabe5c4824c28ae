"""PTB-XL folders as evaluation sets: the super-class labels, the fold, the drawn pages,
and a run through the CLI with a fake model (the real model runs in tests/model)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ecgviewer.core.cli.main import main
from ecgviewer.core.digital.readers import read_record
from ecgviewer.core.digital.render import render_page
from ecgviewer.core.errors import InputError
from ecgviewer.core.evaluation import model_answers, ptbxl
from ecgviewer.core.evaluation.datasets import EvalItem, load_dataset
from ecgviewer.core.evaluation.tasks import get_task
from tests.support.ptbxl_folder import RECORDS, record_name, write_ptbxl

pytest.importorskip("wfdb")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ptbxl(tmp_path_factory.mktemp("ptbxl") / "ptb-xl")


def expected_gold(fold: int = 10) -> dict[str, str]:
    """What the test folder's CSVs say, read from the table the folder was written from."""
    return {str(i): gold for i, _codes, f, _rates, gold in RECORDS if f == fold and gold}


# --- labels ------------------------------------------------------------------------------


def test_only_statements_marked_diagnostic_map_to_a_superclass(folder: Path) -> None:
    mapping = ptbxl.read_superclass_map(folder / ptbxl.STATEMENTS)
    assert mapping == {"NORM": "NORM", "IMI": "MI", "NDT": "STTC", "CLBBB": "CD", "LVH": "HYP"}


def test_superclasses_follow_the_benchmark_rule(folder: Path) -> None:
    mapping = ptbxl.read_superclass_map(folder / ptbxl.STATEMENTS)
    codes = ptbxl.parse_scp_codes
    assert ptbxl.superclasses(codes("{'NORM': 100.0, 'SR': 0.0}", "t"), mapping) == ("NORM",)
    # two classes, in the label space's order whatever the dict's order
    two = codes("{'NDT': 100.0, 'IMI': 50.0, 'SR': 0.0}", "t")
    assert ptbxl.superclasses(two, mapping) == ("MI", "STTC")
    # a diagnostic code of likelihood 0 counts, as in the PTB-XL example code
    assert ptbxl.superclasses(codes("{'CLBBB': 100.0, 'LVH': 0.0}", "t"), mapping) == ("CD", "HYP")
    # form and rhythm statements only: no super-class
    assert ptbxl.superclasses(codes("{'LVOLT': 100.0, 'SR': 0.0}", "t"), mapping) == ()


def test_the_fold_is_selected_and_records_without_a_superclass_are_dropped(folder: Path) -> None:
    selection = ptbxl.select_records(folder)
    gold = {r.ecg_id: ptbxl.gold_answer(r.labels) for r in selection.records}
    assert gold == expected_gold(10) == {"1": "NORM", "2": "MI, STTC", "4": "CD, HYP"}
    assert selection.in_fold == 4 and selection.dropped == ("3",)
    refs = {r.ecg_id: r.record_ref for r in selection.records}
    assert refs == {"1": record_name(1, 500), "2": record_name(2, 500), "4": record_name(4, 100)}
    assert selection.low_rate == ("4",)  # only its 100 Hz files exist
    assert [r.ecg_id for r in ptbxl.select_records(folder, fold=9).records] == ["5"]
    with pytest.raises(InputError, match="no PTB-XL fold 11"):
        ptbxl.select_records(folder, fold=11)


@pytest.mark.parametrize(
    "cell",
    ["__import__('os').system('echo pwned')", "{'NORM': 'high'}", "['NORM']", "{'NORM': 100.0"],
)
def test_scp_codes_are_read_as_a_literal_dict_only(cell: str) -> None:
    with pytest.raises(InputError, match="line 7"):
        ptbxl.parse_scp_codes(cell, "ptbxl_database.csv, line 7")


# --- as a dataset ------------------------------------------------------------------------


def test_load_dataset_reads_a_ptbxl_folder_with_the_tasks_question(folder: Path) -> None:
    notes: list[str] = []
    items = load_dataset(folder, task="ptb-xl-super", note=notes.append)
    assert {item.question_id: item.gold for item in items} == expected_gold(10)
    assert all(item.from_signal and item.image_path.suffix == ".hea" for item in items)
    assert {item.question for item in items} == {get_task("ptb-xl-super").question}
    assert items[2].image_ref == record_name(4, 100)
    assert "3 of 4 records" in notes[0] and "1 without one" in notes[0]
    assert "100 Hz" in notes[1] and "ecg_id 4" in notes[1]
    with pytest.raises(InputError, match="--task ptb-xl-super"):
        load_dataset(folder, task="cpsc")


def test_missing_record_files_are_named_before_the_run(folder: Path, tmp_path: Path) -> None:
    broken = write_ptbxl(tmp_path / "broken")
    (broken / f"{record_name(2, 500)}.dat").unlink()
    (broken / f"{record_name(2, 100)}.dat").unlink()
    with pytest.raises(InputError, match=r"1 PTB-XL record\(s\) not found \(ecg_id 2"):
        load_dataset(broken)
    assert len(load_dataset(broken, check_images=False)) == 3  # scoring needs no signals


def test_an_unreadable_statements_table_is_refused(tmp_path: Path) -> None:
    folder = write_ptbxl(tmp_path / "p")
    table = folder / ptbxl.STATEMENTS
    rows = list(csv.reader(table.open(encoding="utf-8")))
    with table.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([row[:2] for row in rows])
    with pytest.raises(InputError, match="lacks the column"):
        load_dataset(folder)


# --- run: pages drawn just before each answer, results keyed by ecg_id -------------------


class PageAnswers:
    """A fake model that keeps what it was shown: the page's pixels and the question."""

    def __init__(self) -> None:
        self.pages: dict[str, np.ndarray] = {}
        self.paths: list[Path] = []
        self.closed = False

    def __call__(self, item: EvalItem) -> tuple[str, dict[str, Any]]:
        assert not item.from_signal and item.image_path.suffix == ".png"
        self.paths.append(item.image_path)
        with Image.open(item.image_path) as page:
            self.pages[item.question_id] = np.asarray(page.convert("RGB"))
        return "NORM", {"total_ms": 1.0}

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def pair(tmp_path: Path, ecg_home: Path) -> tuple[Path, Path]:
    model, mmproj = tmp_path / "tiny-Q4.gguf", tmp_path / "mmproj.gguf"
    model.write_bytes(b"model")
    mmproj.write_bytes(b"mmproj")
    return model, mmproj


def run(folder: Path, pair: tuple[Path, Path], out: Path, *extra: str) -> int:
    return main(["eval", "run", str(folder), "--model", str(pair[0]), "--mmproj", str(pair[1]),
                 "--task", "ptb-xl-super", "--out", str(out), *extra])  # fmt: skip


def test_run_draws_each_record_and_resumes_by_ecg_id(
    folder: Path, pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = PageAnswers()
    monkeypatch.setattr(model_answers, "make_answer_fn", lambda *_: answers)
    out = tmp_path / "ptbxl.jsonl"
    assert run(folder, pair, out, "--limit", "2") == 0
    assert run(folder, pair, out, "--resume") == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["question_id"] for row in rows] == ["1", "2", "4"]  # each asked once
    assert {row["question_id"]: row["gold"] for row in rows} == expected_gold(10)
    assert rows[2]["image"] == record_name(4, 100) and rows[0]["timings"]["draw_ms"] > 0
    assert list(answers.pages) == ["1", "2", "4"] and answers.closed
    assert not any(path.exists() for path in answers.paths)  # drawn pages are not left behind
    # the model saw exactly the renderer's default page of the record
    drawn = render_page(read_record(folder / f"{record_name(2, 500)}.hea")).image
    assert np.array_equal(answers.pages["2"], np.asarray(drawn))
    meta = json.loads(out.with_name(out.name + ".meta.json").read_text())
    assert meta["ptbxl"]["fold"] == 10
    assert meta["images"]["render_settings"]["layout"] == "3x4+1"
    assert run(folder, pair, out, "--resume") == 0  # nothing new to do
    assert len(out.read_text().splitlines()) == 3 and len(answers.pages) == 3


def test_the_fold_option_and_a_record_that_cannot_be_read(
    pair: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_ptbxl(tmp_path / "p")
    (folder / f"{record_name(1, 500)}.hea").write_text("00001_hr 12 500 5000\nnot a signal\n")
    answers = PageAnswers()
    monkeypatch.setattr(model_answers, "make_answer_fn", lambda *_: answers)
    out = tmp_path / "fold10.jsonl"
    assert run(folder, pair, out) == 0
    rows = {row["question_id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert rows["1"]["text"] == "" and record_name(1, 500) in rows["1"]["error"]
    assert "error" not in rows["2"] and list(answers.pages) == ["2", "4"]  # the run went on
    nine = tmp_path / "fold9.jsonl"
    assert run(folder, pair, nine, "--fold", "9") == 0
    assert [json.loads(line)["question_id"] for line in nine.read_text().splitlines()] == ["5"]
