"""The first-run dialog: acknowledge, once per user, that this is a research tool."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ecgviewer import DISCLAIMER

TEXT = (
    "<h3>ECG Viewer is a research tool</h3>"
    f"<p>The readings it shows are written by a local AI model. They are an <b>{DISCLAIMER}</b>, "
    "and they are <b>not a diagnosis</b>.</p>"
    "<p>Every ECG must be read by a qualified clinician. Do not use this software to make "
    "or change clinical decisions.</p>"
    "<p>Everything stays on this computer: images, study fields and answers are never sent "
    "anywhere.</p>"
)


class DisclaimerDialog(QDialog):
    """Continue is enabled only once the box is ticked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ECG Viewer - research use only")
        self.setObjectName("disclaimerDialog")
        self.setMinimumWidth(480)
        text = QLabel(TEXT)
        text.setWordWrap(True)
        self.agree = QCheckBox("I understand that ECG Viewer is for research use only.")
        buttons = QDialogButtonBox()
        self.continue_button = buttons.addButton("Continue", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton("Quit", QDialogButtonBox.ButtonRole.RejectRole)
        self.continue_button.setEnabled(False)
        self.agree.toggled.connect(self.continue_button.setEnabled)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (text, self.agree, buttons):
            layout.addWidget(widget)
