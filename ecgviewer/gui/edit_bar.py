"""The editing tools: crop, four-corner perspective, rotation, 90-degree turns, resets.

Every edit is a core `EcgImage` override computed in the background, with the
new case value and its screen-sized previews; `edited` hands them to the
window, which swaps the new value in, so the straightened view, the
model-input preview and the case's recorded steps all follow. A failed edit
changes nothing. The bar gets the view it draws handles on, not the window.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QSlider, QToolBar, QWidget

from ecgviewer.core.imaging.ecgimage import EcgImage
from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.ecg_view import EcgView
from ecgviewer.gui.previews import Preview, Previews, preview, with_previews
from ecgviewer.gui.tasks import run_task


class EditBar(QToolBar):
    """Toolbar and Edit-menu actions acting on the case it is given (GUI thread)."""

    edited = Signal(object, object, object)  # OpenCase edited, its new value, their Previews
    failed = Signal(object)  # the exception of an edit that changed nothing
    editing_left = Signal()  # crop or corners left without an edit: show the current view again
    status = Signal(str, int)  # a status-line message and how long to show it (ms, 0: until next)

    def __init__(self, view: EcgView, parent: QWidget | None = None) -> None:
        super().__init__("Edit", parent)
        self.setObjectName("editBar")
        self._view = view
        self._case: OpenCase | None = None
        self._previews: Previews | None = None
        self._request = 0  # the crop preview asked for last; older ones are dropped
        self._mode = ""
        self._actions: dict[str, QAction] = {}
        for key, text, tip in (
            ("crop", "Crop", "Drag the corners to choose what to keep"),
            ("perspective", "Corners", "Drag the four corners of the sheet (perspective)"),
            ("apply", "Apply", "Apply the crop or corners"),
            ("cancel", "Cancel", "Leave the editing without changes"),
            ("left", "Rotate left", "Turn 90 degrees counter-clockwise"),
            ("right", "Rotate right", "Turn 90 degrees clockwise"),
            ("auto", "Reset to automatic", "Drop manual edits; detect everything again"),
            ("original", "Reset to original", "No preprocessing at all"),
        ):
            action = QAction(text, self, toolTip=tip)
            action.setObjectName(f"edit_{key}")
            self._actions[key] = action
        self._add_tools()
        self.set_case(None)

    def _add_tools(self) -> None:
        handlers = {
            "crop": self.start_crop, "perspective": self.start_perspective,
            "apply": self.apply_editing, "cancel": self.cancel_editing,
            "left": lambda: self._edit(lambda image: image.with_rotate90(-1)),
            "right": lambda: self._edit(lambda image: image.with_rotate90(1)),
            "auto": lambda: self._edit(EcgImage.reset_to_automatic),
            "original": lambda: self._edit(EcgImage.reset_to_original),
        }  # fmt: skip
        for key, handler in handlers.items():
            self._actions[key].triggered.connect(handler)
        for key in ("crop", "perspective", "apply", "cancel"):
            self.addAction(self._actions[key])
        self.addSeparator()
        self.addWidget(QLabel(" Angle "))
        self.angle_box = QDoubleSpinBox(decimals=1, minimum=-45.0, maximum=45.0, singleStep=0.1)
        self.angle_box.setSuffix(" deg")
        self.angle_box.setObjectName("angleBox")
        self.angle_box.setToolTip("Rotation removed from the scan (positive: it leaned clockwise)")
        self.angle_box.editingFinished.connect(self._on_angle_box_editing_finished)
        self.angle_slider = QSlider(Qt.Orientation.Horizontal)
        self.angle_slider.setRange(-450, 450)
        self.angle_slider.setFixedWidth(140)
        self.angle_slider.setToolTip("Drag to rotate")
        self.angle_slider.valueChanged.connect(lambda v: self.angle_box.setValue(v / 10))
        self.angle_slider.sliderReleased.connect(self._on_angle_box_editing_finished)
        self.addWidget(self.angle_box)
        self.addWidget(self.angle_slider)
        self.addSeparator()
        for key in ("left", "right", "auto", "original"):
            self.addAction(self._actions[key])

    def edit_actions(self) -> list[QAction]:
        """The Edit menu's items: the same actions as the toolbar's."""
        return list(self._actions.values())

    def set_case(self, case: OpenCase | None, previews: Previews | None = None) -> None:
        """Edit `case` from now on (`previews`: its screen-sized images, for the corners)."""
        self._case, self._previews = case, previews
        self.cancel_editing(refresh=False)
        for key, action in self._actions.items():
            action.setEnabled(case is not None and key not in ("apply", "cancel"))
        self.angle_box.setEnabled(case is not None)
        self.angle_slider.setEnabled(case is not None)
        self._show_angle()

    def _show_angle(self) -> None:
        angle = 0.0
        if self._case is not None:
            for step in self._case.image.steps:
                if step.op == "deskew":
                    angle = float(step.params["angle_deg"])
        for widget in (self.angle_box, self.angle_slider):
            widget.blockSignals(True)
        self.angle_box.setValue(angle)
        self.angle_slider.setValue(round(angle * 10))
        for widget in (self.angle_box, self.angle_slider):
            widget.blockSignals(False)

    # -- handle editing ------------------------------------------------------------
    def start_crop(self) -> None:
        """Show the image before the crop (rendered in the background) with the crop's handles."""
        case = self._case
        if case is None:
            return
        self._request += 1
        self._enter("crop")
        self.status.emit("Preparing the crop...", 0)
        run_task(self, lambda: preview(case.image.image_before("crop")),
                 partial(self._on_crop_preview_ready, self._request, case),
                 self._on_crop_preview_failed)  # fmt: skip

    def _on_crop_preview_ready(self, request: int, case: OpenCase, before: Preview) -> None:
        if request != self._request or case is not self._case or self._mode != "crop":
            return  # left, or asked again, meanwhile
        width, height = before.full_size
        box = next((s.params["box"] for s in case.image.steps if s.op == "crop"), None)
        self._view.set_image(before.image, full_size=before.full_size)
        self._view.edit_rectangle(tuple(box) if box else (0, 0, width, height))
        self.status.emit("", 0)

    def start_perspective(self) -> None:
        case, previews = self._case, self._previews
        if case is None or previews is None:
            return
        original = previews.views[0]
        width, height = original.full_size
        corners = next(
            (s.params["corners"] for s in case.image.steps if s.op == "perspective"),
            [(0, 0), (width, 0), (width, height), (0, height)],
        )
        self._view.set_image(original.image, full_size=original.full_size)
        self._view.edit_quad([(float(x), float(y)) for x, y in corners])
        self._enter("perspective")

    def _enter(self, mode: str) -> None:
        self._mode = mode
        self._actions["apply"].setEnabled(True)
        self._actions["cancel"].setEnabled(True)

    def apply_editing(self) -> None:
        mode, points = self._mode, self._view.edited_points()
        box = self._view.edited_box()
        self.cancel_editing(refresh=False)
        if mode == "crop" and box is not None:
            self._edit(lambda image: image.with_crop(box))
        elif mode == "perspective" and points:
            self._edit(lambda image: image.with_perspective(points))

    def cancel_editing(self, refresh: bool = True) -> None:
        was_editing = bool(self._mode)
        self._mode = ""
        self._view.clear_editing()
        self._actions["apply"].setEnabled(False)
        self._actions["cancel"].setEnabled(False)
        if refresh and was_editing:
            self.editing_left.emit()

    def _on_angle_box_editing_finished(self) -> None:
        if self._case is None or self.angle_slider.isSliderDown():
            return
        angle = self.angle_box.value()
        self._edit(lambda image: image.with_rotation(angle))

    # -- running an edit ------------------------------------------------------------
    def turn(self, turns_cw: int) -> None:
        """Turn the current case's result by quarter turns clockwise (a suggestion accepted)."""
        self._edit(lambda image: image.with_rotate90(turns_cw))

    def _edit(self, change: Callable[[EcgImage], EcgImage]) -> None:
        """Run `change` on a pool thread; a new case value and its previews come back."""
        case = self._case
        if case is None:
            return
        self.status.emit("Applying edit...", 0)
        # the pool thread renders, encodes the model input and makes the previews;
        # `case` itself is never changed there
        run_task(self, lambda: with_previews(case.with_image(change(case.image))),
                 partial(self._on_edit_done, case), self._on_edit_failed)  # fmt: skip

    def _on_edit_done(self, case: OpenCase, result: tuple[OpenCase, Previews]) -> None:
        updated, previews = result
        self.edited.emit(case, updated, previews)  # the window swaps it in and calls set_case
        self.status.emit("Edit applied", 3000)

    def _on_crop_preview_failed(self, error: BaseException) -> None:
        self.cancel_editing()
        self._on_edit_failed(error)

    def _on_edit_failed(self, error: BaseException) -> None:
        self.status.emit("The edit was not applied", 6000)
        self.failed.emit(error)
