"""Path fields with a Browse button, shared by the model and Evaluate dialogs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton

GGUF_FILTER = "GGUF model files (*.gguf);;All files (*)"


def plain_button(text: str) -> QPushButton:
    """A button that Enter does not press: Enter in a path field must not open a file dialog."""
    button = QPushButton(text)
    button.setAutoDefault(False)
    return button


def button_row(edit: QLineEdit, *buttons: QPushButton) -> QHBoxLayout:
    """The field stretched, its buttons beside it."""
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    for button in buttons:
        row.addWidget(button)
    return row


def add_gguf_row(
    form: QFormLayout, label: str, value: str, on_chosen: Callable[[], None] | None = None
) -> QLineEdit:
    """Add "label: [path to a .gguf file] [Browse...]" to `form`; return the field.

    `on_chosen` runs after a file is picked with Browse (typing is the caller's to watch).
    """
    edit = QLineEdit(value)
    edit.setPlaceholderText("path to a .gguf file")
    browse = plain_button("Browse...")

    def choose() -> None:
        start = edit.text() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(edit.window(), "Choose a GGUF file", start,
                                              GGUF_FILTER)  # fmt: skip
        if path:
            edit.setText(path)
            if on_chosen is not None:
                on_chosen()

    browse.clicked.connect(choose)
    form.addRow(label, button_row(edit, browse))
    return edit


def add_folder_row(
    form: QFormLayout, label: str, value: str, placeholder: str,
    on_chosen: Callable[[], None] | None = None,
) -> QLineEdit:  # fmt: skip
    """Add "label: [folder] [Browse...]" to `form`; return the field."""
    edit = QLineEdit(value)
    edit.setPlaceholderText(placeholder)
    browse = plain_button("Browse...")

    def choose() -> None:
        start = edit.text() or str(Path.home())
        path = QFileDialog.getExistingDirectory(edit.window(), "Choose a folder", start)
        if path:
            edit.setText(path)
            if on_chosen is not None:
                on_chosen()

    browse.clicked.connect(choose)
    form.addRow(label, button_row(edit, browse))
    return edit
