"""Start the Qt application: style, palette, first-run dialog, main window."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QDialog

from ecgviewer import __version__
from ecgviewer.core.inference.discovery import configured_or_found
from ecgviewer.core.logsetup import configure_logging
from ecgviewer.core.paths import AppPaths, app_paths, resources_dir
from ecgviewer.core.settings import Settings, load_settings, save_settings
from ecgviewer.gui.errors import install_excepthook
from ecgviewer.gui.first_run import DisclaimerDialog
from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.tasks import wait_for_tasks

log = logging.getLogger(__name__)


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#202124", QPalette.ColorRole.WindowText: "#e8eaed",
        QPalette.ColorRole.Base: "#17181a", QPalette.ColorRole.AlternateBase: "#2a2b2e",
        QPalette.ColorRole.Text: "#e8eaed", QPalette.ColorRole.Button: "#2d2e31",
        QPalette.ColorRole.ButtonText: "#e8eaed", QPalette.ColorRole.Highlight: "#3d7bd9",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#2d2e31",
        QPalette.ColorRole.ToolTipText: "#e8eaed", QPalette.ColorRole.PlaceholderText: "#9aa0a6",
        QPalette.ColorRole.Mid: "#5f6368",
    }  # fmt: skip
    for role, value in colours.items():
        palette.setColor(role, QColor(value))
    return palette


def apply_palette(app: QApplication) -> None:
    """Light or dark, following the system's colour scheme (and its changes)."""
    dark = QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    app.setPalette(dark_palette() if dark else app.style().standardPalette())


def create_application(argv: list[str]) -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv)
    app.setApplicationName("ECG Viewer")
    app.setOrganizationName("ECGViewer")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("ecgviewer")  # Wayland matches the window to ecgviewer.desktop
    app.aboutToQuit.connect(lambda: wait_for_tasks(5000))  # no job may outlive the app
    app.setStyle("Fusion")
    apply_palette(app)
    QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _: apply_palette(app))
    icon = resources_dir() / "icons" / "ecgviewer.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    style = resources_dir() / "styles" / "app.qss"
    if style.exists():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    return app


def acknowledge_disclaimer(paths: AppPaths, settings: Settings) -> bool:
    """Show the research-only dialog once per user; False if the user quits."""
    if settings.disclaimer_acknowledged:
        return True
    if DisclaimerDialog().exec() != QDialog.DialogCode.Accepted:
        return False
    settings.disclaimer_acknowledged = True
    save_settings(paths, settings)
    return True


def build_main_window(files: list[str], paths: AppPaths, settings: Settings) -> MainWindow:
    """The window with `files` opening, the configured server or model connecting or
    loading, or the sample shown. No connection is opened unless a server is configured."""
    window = MainWindow(paths, settings)
    server = bool(settings.server.url)
    pair = None if server else configured_or_found(settings.model, paths)
    if files:
        window.open_paths([Path(f) for f in files])
    elif pair is None and not server:
        window.open_sample_if_empty()
    if server:
        window.model_control.use_server(settings.server)
    elif pair is not None:
        window.load_model(str(pair[0]), str(pair[1]), settings.model)
    return window


def run_application(files: list[str]) -> int:
    """Entry point used by ecgviewer.app: returns the exit code."""
    paths = app_paths().ensure()
    configure_logging(paths)
    app = create_application(sys.argv[:1])
    install_excepthook()
    settings = load_settings(paths)
    if not acknowledge_disclaimer(paths, settings):
        return 0
    window = build_main_window(files, paths, settings)
    window.show()
    close_on_terminate(window)
    return int(app.exec())


def close_on_terminate(window: MainWindow) -> None:
    """SIGTERM (logout, `kill`) closes the window like the user would: worker shut down cleanly."""
    signal.signal(signal.SIGTERM, lambda *_: QTimer.singleShot(0, window.close))
    wake = QTimer(window, interval=250)  # let Python run its signal handlers under Qt's loop
    wake.timeout.connect(lambda: None)
    wake.start()
