"""EcgImage: non-destructive, reproducible from its JSON steps, and manual overrides."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ecgviewer.core.errors import InputError
from ecgviewer.core.imaging.ecgimage import EcgImage
from ecgviewer.core.imaging.options import PreprocessOptions
from ecgviewer.core.imaging.pipeline import auto_preprocess
from ecgviewer.core.imaging.steps import Step, steps_from_json


@pytest.fixture(scope="module")
def shot(page: Image.Image, photo: Callable[..., Any]) -> Any:
    return photo(page, roll=-8, pitch=12, yaw=-10, seed=21)


@pytest.fixture(scope="module")
def processed(shot: Any) -> EcgImage:
    return auto_preprocess(shot.image)


def test_original_is_untouched(shot: Any, processed: EcgImage) -> None:
    assert processed.original is shot.image
    before = np.asarray(shot.image).copy()
    _ = processed.result
    assert np.array_equal(np.asarray(shot.image), before)


def test_steps_json_reapplied_to_the_original_gives_identical_pixels(
    shot: Any, processed: EcgImage
) -> None:
    record = json.loads(json.dumps(processed.steps_json()))  # through a case record
    again = EcgImage.from_json(shot.image, record)
    assert [s.to_json() for s in again.steps] == record
    assert np.array_equal(again.transform, processed.transform)
    assert np.array_equal(np.asarray(again.result), np.asarray(processed.result))


def test_pipeline_is_deterministic(shot: Any, processed: EcgImage) -> None:
    again = auto_preprocess(shot.image)
    assert again.steps_json() == processed.steps_json()
    assert np.array_equal(np.asarray(again.result), np.asarray(processed.result))


def test_transform_maps_marks_to_where_they_land(
    page: Image.Image, photo: Callable[..., Any]
) -> None:
    marked = page.copy()
    draw = ImageDraw.Draw(marked)
    spots = [(300, 200), (1100, 260), (700, 600), (250, 950), (1200, 900)]
    for x, y in spots:
        draw.rectangle((x - 7, y - 7, x + 7, y + 7), fill=(0, 160, 255))
    shot = photo(marked, roll=6, pitch=-10, yaw=8, seed=5)
    ecg = auto_preprocess(shot.image)
    # where each mark's centre is in the photo: through the camera's own homography
    from ecgviewer.core.imaging.geometry import homography_from_points, map_points

    w, h = page.size
    sheet_to_photo = homography_from_points(
        [(-0.5, -0.5), (w - 0.5, -0.5), (w - 0.5, h - 0.5), (-0.5, h - 0.5)], shot.corners
    )
    in_photo = map_points(sheet_to_photo, spots)
    in_result = ecg.map_to_result(in_photo)
    pixels = np.asarray(ecg.result).astype(int)
    for x, y in np.round(in_result).astype(int):
        assert abs(pixels[y, x] - np.array([0, 160, 255])).max() < 40, (x, y, pixels[y, x])
    assert ecg.map_to_original(in_result) == pytest.approx(in_photo, abs=1e-6)


def test_reset_to_original_and_to_automatic(processed: EcgImage) -> None:
    plain = processed.reset_to_original()
    assert plain.steps == ()
    assert np.array_equal(np.asarray(plain.result), np.asarray(processed.original))
    assert np.allclose(plain.transform, np.eye(3))
    again = plain.reset_to_automatic()
    assert again.steps_json() == processed.steps_json()


def test_manual_rotation_replaces_the_detected_one(page: Image.Image) -> None:
    ecg = auto_preprocess(page).with_rotation(4.0)
    deskew = [s for s in ecg.steps if s.op == "deskew"]
    assert len(deskew) == 1 and deskew[0].source == "manual"
    assert deskew[0].params["angle_deg"] == 4.0
    assert ecg.manual["deskew"].params["angle_deg"] == 4.0
    back = ecg.without_override("deskew")
    assert all(s.source == "auto" for s in back.steps)


def test_quarter_turns_accumulate(page: Image.Image) -> None:
    ecg = auto_preprocess(page, PreprocessOptions.none())
    once = ecg.with_rotate90(1)
    assert once.output_size == (page.height, page.width)
    twice = once.with_rotate90(1)
    assert [s.params["turns_cw"] for s in twice.steps if s.op == "rotate90"] == [2]
    assert np.array_equal(np.asarray(twice.result), np.asarray(page.rotate(180)))
    assert twice.with_rotate90(-2).output_size == page.size


def test_manual_crop_is_in_the_frame_before_cropping(page: Image.Image) -> None:
    ecg = auto_preprocess(page).with_rotation(3.0)
    frame = ecg.size_before("crop")
    assert ecg.image_before("crop").size == frame
    cropped = ecg.with_crop((10, 20, 610, 420))
    assert cropped.output_size == (600, 400)
    assert [s.op for s in cropped.steps][-1] == "crop"
    expected = np.asarray(cropped.image_before("crop"))[20:420, 10:610].astype(int)
    # one resampling for rotation and crop together: equal up to interpolation rounding
    assert np.abs(np.asarray(cropped.result).astype(int) - expected).max() <= 2


def test_changing_rotation_drops_a_manual_crop(page: Image.Image) -> None:
    cropped = auto_preprocess(page).with_crop((0, 0, 500, 400))
    turned = cropped.with_rotation(2.0)
    assert "crop" not in turned.manual


def test_manual_perspective_corners(page: Image.Image, photo: Callable[..., Any]) -> None:
    shot = photo(page, roll=4, pitch=15, seed=8)
    ecg = auto_preprocess(shot.image, PreprocessOptions.none()).with_perspective(shot.corners)
    step = ecg.steps[0]
    assert step.op == "perspective" and step.source == "manual"
    width, height = ecg.output_size
    assert width / height == pytest.approx(11 / 8.5, rel=0.02)
    with pytest.raises(InputError):
        ecg.with_perspective(shot.corners[:3])


def test_contrast_can_be_switched(page: Image.Image) -> None:
    ecg = auto_preprocess(page, PreprocessOptions.none()).with_contrast(True)
    assert [s.op for s in ecg.steps] == ["contrast"]
    assert ecg.with_contrast(False).steps == ()


def test_invalid_saved_steps_are_refused(page: Image.Image) -> None:
    with pytest.raises(InputError, match="Unknown"):
        steps_from_json([{"op": "sharpen"}])
    with pytest.raises(InputError, match="lacks"):
        Step.from_json({"op": "crop"})
    with pytest.raises(InputError, match="invalid"):
        Step.from_json({"op": "crop", "box": [10, 10, 5, 20]})
    corners = [[0, 0], [9, 0], [9, 9], [0, 9]]
    with pytest.raises(InputError, match="margin"):
        Step.from_json({"op": "perspective", "corners": corners, "size": [9, 9], "margin": [-1, 0]})
    with pytest.raises(InputError):
        EcgImage.from_json(page, [{"op": "deskew", "angle_deg": "north"}])
    with pytest.raises(InputError):
        EcgImage(page.convert("L"))
