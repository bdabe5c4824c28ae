"""Loading labelled sets: CSV, JSONL, ECGBench JSON/JSONL, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecgviewer.core.errors import InputError
from ecgviewer.core.evaluation.datasets import find_listing, load_dataset


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_relative_images(image_dir: Path) -> None:
    listing = write(
        image_dir / "set.csv",
        "id,image,question,answer\n"
        'q1,images/a.png,"Which, classes?",NORM\n'
        'q2,images/b.png,Which?,"MI, CD"\n',
    )
    items = load_dataset(listing)
    assert [item.question_id for item in items] == ["q1", "q2"]
    assert items[0].image_path == image_dir / "images" / "a.png"
    assert items[0].question == "Which, classes?"
    assert items[1].gold == "MI, CD"
    assert items[0].image_ref == "images/a.png"


def test_csv_header_is_case_insensitive_with_bom_and_gold_alias(image_dir: Path) -> None:
    listing = image_dir / "set.csv"
    listing.write_bytes("\ufeffImage, Question ,Gold\nimages/a.png,Q?,B\n".encode())
    items = load_dataset(listing)
    assert items[0].gold == "B"
    assert items[0].question_id == "1"  # no id column: numbered from 1


def test_folder_with_one_listing(image_dir: Path) -> None:
    line = {"image": "images/a.png", "question": "  Q as given\n", "gold": "A"}
    write(image_dir / "set.jsonl", json.dumps(line) + "\n")
    item = load_dataset(image_dir)[0]
    assert item.gold == "A" and item.question == "  Q as given\n"


def test_folder_ignores_run_descriptions_and_excluded_results(image_dir: Path) -> None:
    listing = write(image_dir / "set.csv", "image,question,answer\nimages/a.png,Q,A\n")
    write(image_dir / "results.jsonl", "")
    write(image_dir / "results.jsonl.meta.json", "{}")
    assert find_listing(image_dir, exclude=(image_dir / "results.jsonl",)) == listing
    with pytest.raises(InputError, match="several listings"):
        find_listing(image_dir)


def test_folder_without_listing(image_dir: Path) -> None:
    with pytest.raises(InputError, match=r"no \.csv"):
        load_dataset(image_dir)


def test_ecgbench_json_with_conversations(image_dir: Path) -> None:
    data = [
        {
            "id": "ptb-1",
            "image": "images/a.png",
            "conversations": [
                {"from": "human", "value": "<image>\nWhat are the diagnoses?"},
                {"from": "gpt", "value": "NORM"},
            ],
        }
    ]
    listing = write(image_dir / "ptb-test.json", json.dumps(data))
    item = load_dataset(listing)[0]
    assert item.question_id == "ptb-1"
    assert item.question == "What are the diagnoses?"  # placeholder removed, rest as given
    assert item.gold == "NORM"


def test_ecgbench_jsonl_and_image_root(tmp_path: Path, image_dir: Path) -> None:
    line = {"id": 7, "image": "a.png", "conversations": [{"value": "Q"}, {"value": "B"}]}
    listing = write(tmp_path / "bench.jsonl", json.dumps(line) + "\n\n")
    items = load_dataset(listing, image_root=image_dir / "images")
    assert items[0].question_id == "7"
    assert items[0].image_path == image_dir / "images" / "a.png"


def test_missing_csv_column_names_it(image_dir: Path) -> None:
    listing = write(image_dir / "set.csv", "image,question\nimages/a.png,Q\n")
    with pytest.raises(InputError, match=r"answer.*line 1"):
        load_dataset(listing)


def test_missing_field_names_the_line(image_dir: Path) -> None:
    lines = [
        {"image": "images/a.png", "question": "Q", "answer": "A"},
        {"image": "images/a.png", "question": "Q"},
    ]
    listing = write(image_dir / "set.jsonl", "\n".join(json.dumps(x) for x in lines))
    with pytest.raises(InputError, match="line 2: missing `answer`"):
        load_dataset(listing)


def test_bad_json_line_names_the_line(image_dir: Path) -> None:
    listing = write(
        image_dir / "set.jsonl",
        '{"image": "images/a.png", "question": "Q", "answer": "A"}\n{oops\n',
    )
    with pytest.raises(InputError, match="line 2"):
        load_dataset(listing)


def test_bad_conversation_names_the_item(image_dir: Path) -> None:
    listing = write(
        image_dir / "set.json",
        json.dumps([{"image": "images/a.png", "conversations": [{"value": "Q"}]}]),
    )
    with pytest.raises(InputError, match="item 1"):
        load_dataset(listing)


def test_missing_images_are_all_reported_before_a_run(image_dir: Path) -> None:
    listing = write(
        image_dir / "set.csv",
        "image,question,answer\nimages/a.png,Q,A\nimages/nope.png,Q,A\nmissing/x.png,Q,B\n",
    )
    with pytest.raises(
        InputError, match=r"2 image\(s\) not found.*line 3: images/nope.png.*line 4"
    ):
        load_dataset(listing)
    assert len(load_dataset(listing, check_images=False)) == 3


def test_duplicate_ids_are_refused(image_dir: Path) -> None:
    listing = write(
        image_dir / "set.csv", "id,image,question,answer\nx,images/a.png,Q,A\nx,images/b.png,Q,B\n"
    )
    with pytest.raises(InputError, match=r"used twice.*line 2 and line 3"):
        load_dataset(listing)


def test_empty_listing_and_wrong_suffix(image_dir: Path) -> None:
    with pytest.raises(InputError, match="no items"):
        load_dataset(write(image_dir / "set.csv", "image,question,answer\n"))
    with pytest.raises(InputError, match="not a dataset listing"):
        load_dataset(write(image_dir / "set.txt", "x"))
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(image_dir / "nothing-here")
