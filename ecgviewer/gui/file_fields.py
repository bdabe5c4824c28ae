"""Path fields with a Browse button, shared by the model and Evaluate dialogs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

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

    def pick(parent: QWidget, start: str) -> str:
        return QFileDialog.getOpenFileName(parent, "Choose a GGUF file", start, GGUF_FILTER)[0]

    return _add_path_row(form, label, value, "path to a .gguf file", pick=pick, on_chosen=on_chosen)


def add_folder_row(
    form: QFormLayout, label: str, value: str, placeholder: str,
    on_chosen: Callable[[], None] | None = None,
) -> QLineEdit:  # fmt: skip
    """Add "label: [folder] [Browse...]" to `form`; return the field."""

    def pick(parent: QWidget, start: str) -> str:
        return QFileDialog.getExistingDirectory(parent, "Choose a folder", start)

    return _add_path_row(form, label, value, placeholder, pick=pick, on_chosen=on_chosen)


def _add_path_row(
    form: QFormLayout, label: str, value: str, placeholder: str, *,
    pick: Callable[[QWidget, str], str], on_chosen: Callable[[], None] | None,
) -> QLineEdit:  # fmt: skip
    edit = QLineEdit(value)
    edit.setPlaceholderText(placeholder)
    browse = plain_button("Browse...")

    def choose() -> None:
        path = pick(edit.window(), edit.text() or str(Path.home()))
        if path:
            edit.setText(path)
            if on_chosen is not None:
                on_chosen()

    browse.clicked.connect(choose)
    form.addRow(label, button_row(edit, browse))
    return edit
