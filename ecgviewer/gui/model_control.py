"""Loading and unloading the model from the window: the dialog, progress and the status line;
and reading on an inference server instead (Settings > Inference server)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from ecgviewer.core.case import Provenance
from ecgviewer.core.errors import EcgViewerError
from ecgviewer.core.inference.discovery import configured_or_found
from ecgviewer.core.inference.integrity import KnownPair, load_manifest
from ecgviewer.core.inference.loaded import LoadedModel
from ecgviewer.core.inference.machine import MachineFacts
from ecgviewer.core.inference.remote_stream import make_client
from ecgviewer.core.inference.server_config import ServerConfig, server_config
from ecgviewer.core.inference.server_identity import ask_served_model, served_provenance
from ecgviewer.core.modelimport.importer import ImportResult
from ecgviewer.core.paths import AppPaths
from ecgviewer.core.settings import ModelSettings, ServerSettings, Settings
from ecgviewer.gui.errors import present_error
from ecgviewer.gui.model_dialog import ModelDialog
from ecgviewer.gui.model_owner import ModelOwner
from ecgviewer.gui.server_dialog import ServerDialog

if TYPE_CHECKING:
    from ecgviewer.gui.import_dialog import ImportDialog


STAGE_LABELS = {"hashing": "Checking model files", "loading": "Loading model"}


class ModelControl(QObject):
    """Connects the model dialog, the import dialogs and the model owner (GUI thread).

    It gets what it uses: the owner, the paths, the settings (the chosen pair is
    kept in `settings.model` and saved with `save_settings`), a parent widget for
    its dialogs, a `status` line and the `current_model`; it announces the model
    the reading should use with `model_changed` (a LoadedModel, or None).
    """

    model_changed = Signal(object)  # LoadedModel | None: loaded, restarted or unloaded

    def __init__(
        self, owner: ModelOwner, paths: AppPaths, settings: Settings, *, parent: QWidget,
        save_settings: Callable[[], None], status: Callable[[str], None],
        current_model: Callable[[], LoadedModel | None],
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self._owner, self._paths, self._settings, self._parent = owner, paths, settings, parent
        self._save_settings, self._status = save_settings, status
        self._current_model = current_model
        self._dialog: ModelDialog | None = None
        self._pending: ModelSettings | None = None
        self._imports: list[ImportDialog] = []
        self._machine: MachineFacts | None = None  # as last probed on the owner thread
        owner.load_progress.connect(self._on_owner_load_progress)
        owner.loaded.connect(self._on_owner_loaded)
        owner.load_failed.connect(self._on_owner_load_failed)
        owner.unloaded.connect(lambda: self.model_changed.emit(None))
        owner.restarted.connect(self._on_owner_restarted)
        owner.machine_probed.connect(self._on_owner_machine_probed)

    def load(self, text: str, mmproj: str, settings: ModelSettings) -> None:
        """Ask the model owner to check and load the pair; progress shows in the status."""
        self._status("Loading model (0%)")
        # remembered once loaded, with the files: a pair found in the models folders is then
        # what the model and Evaluate dialogs show, and what loads at the next start
        self._pending = replace(settings, text_path=text, mmproj_path=mmproj)
        self._owner.load_requested.emit(text, mmproj, settings)

    def show_dialog(self, dropped: list[Path] | None = None) -> None:
        loaded = self._current_model()
        dialog = ModelDialog(self._paths, self._settings.model, self._parent, loaded=loaded)
        dialog.load_requested.connect(self.load)
        dialog.unload_requested.connect(self._owner.unload_requested.emit)
        dialog.finished.connect(self._on_dialog_finished)
        self._dialog = dialog
        machine = loaded.machine if loaded is not None and loaded.machine.features else None
        machine = machine or self._machine  # what the load reported, else the last probe
        if machine is None:
            self._owner.probe_requested.emit()  # answered by machine_probed
        else:
            dialog.set_machine(machine)
        if dropped:
            mmproj = next((str(p) for p in dropped if "mmproj" in p.name.lower()), "")
            text = next((str(p) for p in dropped if str(p) != mmproj), "")
            dialog.set_paths(text, mmproj)
        dialog.open()

    def use_server(self, server: ServerSettings) -> None:
        """Read on `server` from now on; the status says where once connected."""
        try:
            config = server_config(server)
        except EcgViewerError as error:
            self._status(f"Inference server not used: {error.message}")
            present_error(self._parent, error)
            return
        self._pending = None  # a connection is not a local pair to remember
        self._status(f"Connecting to {config.host}...")
        self._owner.server_requested.emit(config, self._settings.model)

    def show_server_dialog(self) -> None:
        """Settings > Inference server: on Save, connect (or go back to this computer)."""
        pairs = load_manifest() + load_manifest(self._paths.user_manifest_file)
        identity = partial(served_identity, pairs=pairs)
        dialog = ServerDialog(self._settings.server, identity, self._parent)
        dialog.saved.connect(self._on_server_dialog_saved)
        dialog.open()

    def _on_server_dialog_saved(self, server: ServerSettings) -> None:
        was = self._settings.server.url
        self._settings.server = server
        self._save_settings()
        if server.url:
            self.use_server(server)
        elif was:  # back to this computer: the local pair, if there is one
            self._owner.unload_requested.emit()
            pair = configured_or_found(self._settings.model, self._paths)
            if pair is not None:
                self.load(str(pair[0]), str(pair[1]), self._settings.model)

    def show_import_dialog(self, folder: Path | None = None) -> None:
        """Model > Import from a Hugging Face folder (or a checkpoint folder dropped)."""
        from ecgviewer.gui.import_dialog import ImportDialog

        dialog = ImportDialog(self._paths, str(folder or ""), self._parent)
        dialog.imported.connect(self._on_import_dialog_imported)
        self._imports.append(dialog)
        dialog.open()

    def shutdown(self) -> None:
        """GUI thread, at exit: stop imports in progress and wait until they have cleaned up."""
        from ecgviewer.gui.tasks import wait_for_tasks

        running = [dialog for dialog in self._imports if dialog.running]
        for dialog in running:
            dialog.cancel()
        if running:
            wait_for_tasks(60_000)

    def _on_import_dialog_imported(self, result: ImportResult) -> None:
        self.load(str(result.text_model), str(result.mmproj), self._settings.model)

    def _on_dialog_finished(self, _result: int) -> None:
        self._dialog = None

    def _on_owner_load_progress(self, stage: str, fraction: float) -> None:
        label = STAGE_LABELS.get(stage, "Loading model")
        self._status(f"{label} ({fraction:.0%})")
        if self._dialog is not None:
            self._dialog.show_progress(stage, fraction)

    def _on_owner_loaded(self, model: LoadedModel) -> None:
        if self._pending is not None:
            self._settings.model = self._pending
            self._save_settings()
        self.model_changed.emit(model)
        if self._dialog is not None:
            self._dialog.load_finished(True)

    def _on_owner_load_failed(self, error: EcgViewerError) -> None:
        self.model_changed.emit(None)
        self._status(f"Model not loaded: {error.message}")
        if self._dialog is not None:
            self._dialog.load_finished(False)
        present_error(self._parent, error)

    def _on_owner_restarted(self, model: LoadedModel, note: str) -> None:
        """The engine died and came back (perhaps with safer settings): go on with it."""
        self.model_changed.emit(model)  # the reading shows the note, reads the image again
        self._status(note)

    def _on_owner_machine_probed(self, machine: MachineFacts) -> None:
        self._machine = machine
        if self._dialog is not None:
            self._dialog.set_machine(machine)


def served_identity(config: ServerConfig, *, pairs: list[KnownPair]) -> Provenance:
    """Pool thread (the server dialog's Test connection): what the server serves, matched
    to the known pairs as every answer's provenance will be."""
    with make_client(config) as client:
        served = ask_served_model(client, config)
    return served_provenance(config, served, pairs)
