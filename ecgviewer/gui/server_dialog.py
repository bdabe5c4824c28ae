"""Settings > Inference server: where readings run when not on this computer.

The dialog edits a copy of `settings.ServerSettings` (URL, "verify the server
certificate", CA bundle) and the API key, which goes to the operating system's
credential store and never to the settings file (`server_config.store_server_key`).
Where there is no credential store (a headless Linux machine) it says so and
names the environment variable to use instead. Test connection asks the server
what it serves on a pool thread (`run_task`) and shows it with the known pair
it matches in models/manifest.json or the import manifest (or "unknown model").
GUI thread only.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ecgviewer.core.case import Provenance
from ecgviewer.core.errors import EcgViewerError
from ecgviewer.core.inference.server_config import (
    KEY_ENV,
    ServerConfig,
    ServerConfigError,
    check_server_url,
    key_store_problem,
    server_config,
    store_server_key,
)
from ecgviewer.core.settings import ServerSettings
from ecgviewer.gui.file_fields import button_row, plain_button
from ecgviewer.gui.tasks import run_task

ServedIdentity = Callable[[ServerConfig], Provenance]
"""Asks a server what it serves and matches it to the known pairs (runs on a pool thread)."""

CA_FILTER = "Certificates (*.pem *.crt);;All files (*)"
INFO = (
    "<p>Leave the address empty to read on this computer (nothing is sent anywhere).</p>"
    "<p>With a server, <b>the model-input image and the questions</b> are sent to it; never "
    "the original file, the study fields or the notes. Names printed on a scan travel with "
    "the image unless they are cropped away.</p>"
)


class ServerDialog(QDialog):
    """Edit the inference server settings; `saved` carries them once stored."""

    saved = Signal(object)  # ServerSettings

    def __init__(
        self, settings: ServerSettings, served_identity: ServedIdentity,
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle("Inference server")
        self.setObjectName("serverDialog")
        self.setMinimumWidth(620)
        self._settings, self._served_identity = settings, served_identity
        self._testing = False
        layout = QVBoxLayout(self)
        info = QLabel(INFO)
        info.setWordWrap(True)
        layout.addWidget(info)
        form = QFormLayout()
        layout.addLayout(form)
        self._build_address(form, settings)
        self._build_key(form)
        self._build_certificate(form, settings)
        self._build_test(form)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._on_url_edit_text_changed(self.url_edit.text())

    # -- layout ------------------------------------------------------------------------
    def _build_address(self, form: QFormLayout, settings: ServerSettings) -> None:
        self.url_edit = QLineEdit(settings.url)
        self.url_edit.setPlaceholderText("https://gpu-01.cardio.local:8443")
        self.url_edit.textChanged.connect(self._on_url_edit_text_changed)
        form.addRow("Server address:", self.url_edit)
        self.url_problem = _note_label("serverUrlProblem", error=True)
        form.addRow("", self.url_problem)

    def _build_key(self, form: QFormLayout) -> None:
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("unchanged" if settings_has_url(self._settings) else "")
        form.addRow("API key:", self.key_edit)
        self.key_note = _note_label("serverKeyNote")
        self.key_note.setText(key_note_text())
        self.key_note.setVisible(bool(self.key_note.text()))
        form.addRow("", self.key_note)

    def _build_certificate(self, form: QFormLayout, settings: ServerSettings) -> None:
        self.verify_check = QCheckBox("Verify the server certificate")
        self.verify_check.setChecked(settings.verify_tls)
        self.verify_check.toggled.connect(self._on_verify_check_toggled)
        form.addRow("", self.verify_check)
        self.ca_edit = QLineEdit(settings.ca_bundle)
        self.ca_edit.setPlaceholderText("optional: the hospital's CA bundle (.pem)")
        self.ca_button = plain_button("Browse...")
        self.ca_button.clicked.connect(self._on_ca_button_clicked)
        form.addRow("CA bundle:", button_row(self.ca_edit, self.ca_button))
        self._on_verify_check_toggled(settings.verify_tls)

    def _build_test(self, form: QFormLayout) -> None:
        self.test_button = plain_button("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = _note_label("serverTestResult")
        form.addRow(self.test_button, self.test_result)
        self.served_label = _note_label("servedModel")
        form.addRow("Served model:", self.served_label)
        self.pair_label = _note_label("servedPair")
        form.addRow("Known pair:", self.pair_label)

    # -- what the user typed -------------------------------------------------------------
    def url_problem_text(self) -> str:
        """Why the address cannot be used ("" when it can, or is empty: no server)."""
        text = self.url_edit.text().strip()
        if not text:
            return ""
        try:
            check_server_url(text)
        except ServerConfigError as error:
            return f"{error.message} {error.hint}".strip()
        return ""

    def chosen_settings(self) -> ServerSettings:
        """The settings as filled in (the URL in its stored form)."""
        text = self.url_edit.text().strip()
        url = check_server_url(text) if text else ""
        return replace(self._settings, url=url, verify_tls=self.verify_check.isChecked(),
                       ca_bundle=self.ca_edit.text().strip())  # fmt: skip

    def _config(self) -> ServerConfig:
        """For Test connection: the key typed, else the stored one (or the environment's)."""
        typed = self.key_edit.text().strip()
        return server_config(self.chosen_settings(), api_key=typed or None)

    # -- slots -----------------------------------------------------------------------------
    def _on_url_edit_text_changed(self, _text: str) -> None:
        problem = self.url_problem_text()
        self.url_problem.setText(html.escape(problem))
        self.url_problem.setVisible(bool(problem))
        has_url = bool(self.url_edit.text().strip())
        self.test_button.setEnabled(not problem and has_url and not self._testing)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not problem)

    def _on_verify_check_toggled(self, checked: bool) -> None:
        self.ca_edit.setEnabled(checked)
        self.ca_button.setEnabled(checked)
        if not checked:
            self.test_result.setText("Without verification anyone on the network path could "
                                     "pose as the server.")  # fmt: skip

    def _on_ca_button_clicked(self) -> None:
        start = self.ca_edit.text()
        path, _ = QFileDialog.getOpenFileName(self, "Choose the CA bundle", start, CA_FILTER)
        if path:
            self.ca_edit.setText(path)

    def test_connection(self) -> None:
        """Ask the server what it serves (pool thread); the answer fills the model list."""
        try:
            config = self._config()
        except EcgViewerError as error:
            self._show_test_failure(error)
            return
        self._testing = True
        self.test_button.setEnabled(False)
        self.test_result.setText(f"Connecting to {html.escape(config.host)}...")
        served = self._served_identity
        run_task(self, lambda: served(config), self._on_test_succeeded, self._on_test_failed)

    def _on_test_succeeded(self, identity: Provenance) -> None:
        self._end_test()
        self.test_result.setText("Connected.")
        self.served_label.setText(html.escape(identity.served_model))
        self.pair_label.setText(html.escape(pair_text(identity)))

    def _on_test_failed(self, error: BaseException) -> None:
        self._end_test()
        self._show_test_failure(error)

    def _show_test_failure(self, error: BaseException) -> None:
        if isinstance(error, EcgViewerError):
            text = f"{error.message} {error.hint}".strip()
        else:
            text = f"The test failed ({type(error).__name__})."
        self.test_result.setText(f"<span style='color:#b00020'>{html.escape(text)}</span>")

    def _end_test(self) -> None:
        self._testing = False
        self._on_url_edit_text_changed(self.url_edit.text())

    def _on_buttons_accepted(self) -> None:
        """Save: the key to the credential store (if one was typed), the rest to settings."""
        try:
            chosen = self.chosen_settings()
            key = self.key_edit.text().strip()
            if key and chosen.url:
                store_server_key(chosen.url, key)
        except ServerConfigError as error:
            self.key_note.setText(html.escape(f"{error.message} {error.hint}"))
            self.key_note.setVisible(True)
            return
        self.saved.emit(chosen)
        self.accept()


def key_note_text() -> str:
    """What the dialog says about where the key is kept, when it cannot be the usual place."""
    problem = key_store_problem()
    if not problem:
        return ""
    return html.escape(
        f"{problem} The key cannot be saved here. Set the environment variable {KEY_ENV} to "
        f"the key before starting ECG Viewer (a key typed here is used only for Test "
        "connection)."
    )


def pair_text(identity: Provenance) -> str:
    """Which known pair the served model is, and whether its answers are ECG readings."""
    if identity.known_pair:
        ecg = "an ECG model" if identity.is_ecg_model else "not an ECG model"
        return f"{identity.known_pair} ({ecg}; hashes as listed in the manifest)"
    ecg = "" if identity.is_ecg_model else "; its answers are not presented as ECG readings"
    return ("Unknown model: listed in neither models/manifest.json nor the import manifest, "
            f"so its hashes are unknown{ecg}")  # fmt: skip


def settings_has_url(settings: ServerSettings) -> bool:
    return bool(settings.url.strip())


def _note_label(name: str, *, error: bool = False) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    if error:
        label.setStyleSheet("color: #b00020")
    return label
