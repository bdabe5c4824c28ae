"""Regenerate docs/screenshots/server-settings.png and server-reading.png (offscreen Qt).

    PYTHONPATH=. python docs/make_server_screenshots.py

Starts llama-cpp-python's server with the quiet test pair (tests/support/
llama_server.py: AMX-safe launcher, `--interrupt_requests false`), opens a
tilted synthetic ECG, configures the server in Settings > Inference server as
a user would (Test connection, Save), asks the first question and a follow-up,
and shoots the dialog and the window. The served model is the small
general-purpose 270M test model, so the panel must label its text as output of
a non-ECG model, never as an ECG draft; the script refuses to save a window
that says otherwise.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6.QtWidgets import QDialogButtonBox, QMenu  # noqa: E402

from docs.make_screenshots import OUT, wait_until  # noqa: E402
from ecgviewer.core.imaging.synthetic import render  # noqa: E402
from ecgviewer.core.inference.server_config import KEY_ENV  # noqa: E402
from ecgviewer.core.labels import NON_ECG_LABEL  # noqa: E402
from ecgviewer.core.paths import app_paths  # noqa: E402
from ecgviewer.core.settings import Settings  # noqa: E402
from ecgviewer.gui.application import create_application  # noqa: E402
from ecgviewer.gui.main_window import MainWindow  # noqa: E402
from ecgviewer.gui.server_dialog import ServerDialog  # noqa: E402
from tests.support.llama_server import running_server  # noqa: E402


def open_scan(window: MainWindow) -> None:
    scan = Path(tempfile.mkdtemp()) / "scan.png"
    sheet = render(width_px=1800).image.rotate(4.0, expand=True, fillcolor=(90, 84, 78))
    sheet.save(scan)
    window.open_paths([scan])
    wait_until(lambda: window.cases, 30)


def configure(window: MainWindow, url: str) -> None:
    """Settings > Inference server...: address, Test connection, screenshot, Save."""
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Settings")
    assert isinstance(menu, QMenu)
    next(a for a in menu.actions() if a.text() == "&Inference server...").trigger()
    dialog = window.findChild(ServerDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.url_edit.setText(url)
    dialog.test_button.click()
    wait_until(lambda: "Connected" in dialog.test_result.text(), 60)
    dialog.grab().save(str(OUT / "server-settings.png"))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    wait_until(window.panel.interpret_button.isEnabled, 60)


def ask(window: MainWindow, question: str) -> None:
    window.panel.question_edit.setPlainText(question)
    window.panel.interpret_button.click()
    wait_until(lambda: window.panel.status_label.text().startswith("Done"), 300)


def main() -> int:
    os.environ["ECGVIEWER_HOME"] = tempfile.mkdtemp()
    app = create_application(sys.argv[:1])
    settings = Settings(disclaimer_acknowledged=True)
    settings.model.max_tokens = 48
    window = MainWindow(app_paths().ensure(), settings)
    window.resize(1400, 880)
    window.show()
    open_scan(window)
    with running_server(Path(tempfile.mkdtemp())) as server:
        os.environ[KEY_ENV] = server.api_key  # this machine has no credential store
        configure(window, server.url)
        ask(window, "What is the heart rate?")
        ask(window, "Describe the rhythm.")
        window.panel.render_now()
        label = window.panel.draft_label.text()
        if label != NON_ECG_LABEL:
            raise SystemExit(f"the 270M model's answer is labelled {label!r}")
        window.grab().save(str(OUT / "server-reading.png"))
        window.close()
        app.processEvents()
    print(OUT / "server-settings.png", OUT / "server-reading.png", sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
