"""The editing tools: crop, four-corner perspective, rotation, 90-degree turns, resets.

Every edit is a core `EcgImage` override computed in the background; the new
image replaces the current one, so the straightened view, the model-input
preview and the case's recorded steps all follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QMenu, QSlider, QToolBar

from ecgviewer.core.imaging.ecgimage import EcgImage
from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.ecg_view import EcgView
from ecgviewer.gui.errors import present_error
from ecgviewer.gui.qtimage import to_qimage
from ecgviewer.gui.tasks import run_task

if TYPE_CHECKING:
    from ecgviewer.gui.main_window import MainWindow


class EditBar(QToolBar):
    """Toolbar and Edit-menu actions acting on the window's current case."""

    def __init__(self, window: MainWindow, view: EcgView) -> None:
        super().__init__("Edit", window)
        self.setObjectName("editBar")
        self._window = window
        self._view = view
        self._case: OpenCase | None = None
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
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self)
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

    def add_actions(self, menu: QMenu) -> None:
        for action in self._actions.values():
            menu.addAction(action)

    def set_case(self, case: OpenCase | None) -> None:
        self._case = case
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
        case = self._case
        if case is None:
            return
        before = case.image.image_before("crop")
        box = next((s.params["box"] for s in case.image.steps if s.op == "crop"), None)
        self._view.set_image(to_qimage(before))
        self._view.edit_rectangle(tuple(box) if box else (0, 0, before.width, before.height))
        self._enter("crop")

    def start_perspective(self) -> None:
        case = self._case
        if case is None:
            return
        width, height = case.original.size
        corners = next(
            (s.params["corners"] for s in case.image.steps if s.op == "perspective"),
            [(0, 0), (width, 0), (width, height), (0, height)],
        )
        self._view.set_image(to_qimage(case.original))
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
            self._window.refresh_view()

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
        case = self._case
        if case is None:
            return
        self._window.statusBar().showMessage("Applying edit...")

        def work() -> OpenCase:
            updated = case.with_image(change(case.image))
            updated.model_png()  # encode the model input off the GUI thread too
            return updated

        run_task(self._window, work, self._on_edit_done, lambda e: present_error(self._window, e))

    def _on_edit_done(self, updated: OpenCase) -> None:
        self._case = updated
        self._window.replace_current(updated)
        self._show_angle()
        self._window.statusBar().showMessage("Edit applied", 3000)
