"""Settings > Inference server, driven like a user: the address rules, where the API key
goes (never the settings file), and (with a real llama_cpp.server) a reading on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from pypdf import PdfReader
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel
from pytestqt.qtbot import QtBot

from ecgviewer.core.case import ModelIdentity, Provenance
from ecgviewer.core.inference.server_config import KEY_ENV, KEYRING_SERVICE
from ecgviewer.core.settings import ServerSettings
from ecgviewer.gui.exporting import write_pdf_in_background
from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.server_dialog import ServerDialog
from tests.gui.conftest import drop_files
from tests.gui.test_main_window import tilted_scan


class MemoryKeyring(KeyringBackend):
    """A credential store that keeps keys in memory, as the OS's would on a desktop."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self.keys[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self.keys.get((service, username))

    def delete_password(self, service: str, username: str) -> None:
        self.keys.pop((service, username), None)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Iterator[KeyringBackend]:
    """The credential store for one test: in memory, or none (a headless Linux machine)."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring() if request.param == "memory" else fail.Keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def open_server_dialog(window: MainWindow, qtbot: object) -> ServerDialog:
    """Settings > Inference server..., as the user chooses it."""
    settings_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Settings")
    action = next(a for a in settings_menu.actions() if a.text() == "&Inference server...")
    action.trigger()
    dialog = window.findChild(ServerDialog)
    assert dialog is not None and dialog.isVisible()
    return dialog


def save_button(dialog: ServerDialog) -> object:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Save)


def test_http_to_another_host_is_refused_with_the_reason(qtbot: object) -> None:
    dialog = ServerDialog(
        ServerSettings(), lambda config: Provenance(ModelIdentity("", ""), ModelIdentity("", ""))
    )
    qtbot.addWidget(dialog)  # type: ignore[attr-defined]
    dialog.show()
    qtbot.keyClicks(dialog.url_edit, "http://gpu-01.cardio.local:8080")  # type: ignore[attr-defined]
    assert dialog.url_problem.isVisible()
    reason = dialog.url_problem.text()
    assert "gpu-01.cardio.local must be reached over HTTPS" in reason
    assert "only for this computer" in reason
    assert not save_button(dialog).isEnabled()
    assert not dialog.test_button.isEnabled()
    dialog.url_edit.clear()
    qtbot.keyClicks(dialog.url_edit, "http://127.0.0.1:8080")  # type: ignore[attr-defined]
    assert not dialog.url_problem.isVisible()
    assert save_button(dialog).isEnabled() and dialog.test_button.isEnabled()
    dialog.url_edit.setText("https://user:pw@gpu-01.cardio.local")
    assert "must not contain a user name or password" in dialog.url_problem.text()


@pytest.mark.parametrize("store", ["memory"], indirect=True)
def test_the_key_goes_to_the_credential_store_never_the_settings_file(
    window: MainWindow, qtbot: object, store: MemoryKeyring
) -> None:
    dialog = open_server_dialog(window, qtbot)
    assert not dialog.key_note.isVisible()  # a credential store is there: nothing to explain
    qtbot.keyClicks(dialog.url_edit, "http://127.0.0.1:9")  # type: ignore[attr-defined]
    qtbot.keyClicks(dialog.key_edit, "s3cret-key-4711")  # type: ignore[attr-defined]
    qtbot.mouseClick(save_button(dialog), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert not dialog.isVisible()
    assert store.keys == {(KEYRING_SERVICE, "http://127.0.0.1:9"): "s3cret-key-4711"}
    written = window.paths.settings_file.read_text(encoding="utf-8")
    assert '"url": "http://127.0.0.1:9"' in written
    assert "s3cret" not in written
    # nothing listens on port 9: the window says so and reads nowhere
    qtbot.waitUntil(lambda: "refused the connection" in window.panel.status_label.text())  # type: ignore[attr-defined]
    assert not window.panel.where_label.isVisible()


@pytest.mark.parametrize("store", ["none"], indirect=True)
def test_without_a_credential_store_the_dialog_names_the_environment_variable(
    window: MainWindow, qtbot: object, store: KeyringBackend
) -> None:
    dialog = open_server_dialog(window, qtbot)
    assert dialog.key_note.isVisible()
    assert "No credential store is available" in dialog.key_note.text()
    assert KEY_ENV in dialog.key_note.text()
    dialog.url_edit.setText("https://gpu-01.cardio.local:8443")
    qtbot.keyClicks(dialog.key_edit, "s3cret-key-4711")  # type: ignore[attr-defined]
    qtbot.mouseClick(save_button(dialog), Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    assert dialog.isVisible()  # not saved: the user is told why and what to do instead
    assert "cannot be saved" in dialog.key_note.text()
    assert not window.paths.settings_file.exists() or "s3cret" not in (
        window.paths.settings_file.read_text(encoding="utf-8")
    )
    dialog.reject()
    QApplication.processEvents()


@pytest.mark.slow
def test_the_window_reads_on_a_real_server_shows_where_and_its_pdf_says_so(
    window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.llama_server import running_server

    drop_files(window, [tilted_scan(tmp_path / "scan.png", 4.0)])
    qtbot.waitUntil(lambda: len(window.cases) == 1, timeout=20_000)
    window.settings.model.max_tokens = 48
    with running_server(tmp_path) as server:
        monkeypatch.setenv(KEY_ENV, server.api_key)  # this machine has no credential store
        dialog = open_server_dialog(window, qtbot)
        dialog.url_edit.setText(server.url)
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "Connected" in dialog.test_result.text(), timeout=60_000)
        assert dialog.served_label.text() == server.model_id
        assert dialog.pair_label.text().startswith("Unknown model")
        qtbot.mouseClick(save_button(dialog), Qt.MouseButton.LeftButton)
        # the panel and the status bar say where readings run
        qtbot.waitUntil(window.panel.where_label.isVisible, timeout=60_000)
        assert window.panel.where_label.text() == "Reading on 127.0.0.1"
        status_bar = window.statusBar().findChild(QLabel, "statusModel")
        assert "Reading on 127.0.0.1" in status_bar.text()
        assert window.panel.interpret_button.isEnabled()

        ticks: list[int] = []  # the event loop runs while the answer streams
        deltas: list[int] = []
        timer = QTimer(window, interval=20)
        timer.timeout.connect(lambda: ticks.append(len(deltas)))
        window.reading.turn_text.connect(lambda *_: deltas.append(1))
        timer.start()
        window.panel.interpret_button.click()
        done = lambda: window.panel.status_label.text().startswith("Done in")  # noqa: E731
        qtbot.waitUntil(done, timeout=300_000)
        timer.stop()
        turn = window.cases[0].case.thread[0]
        assert turn.answer and len(deltas) > 1
        assert any(0 < seen < len(deltas) for seen in ticks)  # ticked between two deltas
        assert turn.provenance is not None
        assert turn.provenance.server_url == server.url
        assert turn.provenance.served_model == server.model_id

        target = tmp_path / "report.pdf"
        write_pdf_in_background(window, window.cases[0], target, "A4")
        qtbot.waitUntil(lambda: bool(window.cases[0].case.exported_pdfs), timeout=30_000)
    text = "".join(page.extract_text() for page in PdfReader(target).pages)
    flat = "".join(text.split())
    assert f"inferenceserver{server.url}" in flat
    assert "Servedmodel" in flat and server.text.name in flat
    assert server.api_key not in flat
