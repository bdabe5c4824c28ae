"""Asking the model about the current case: the Interpret / Stop / Regenerate flow.

`ReadingController` lives on the GUI thread. It turns panel actions into
requests to the model owner and the owner's events into calls on the case's
core `Conversation` (core/conversation.py), which owns the thread: the history
the model sees, the turn being answered, what a failed turn keeps, Regenerate
and New reading. The controller keeps the status line truthful and re-emits
what changed as its own signals. Every request carries a tag; text arriving
with an old tag (after Stop, or from a case that was closed) is dropped.

The read ahead follows the case on screen: showing a case asks the owner to
read its image, which replaces a read ahead of the case shown before (the
owner keeps one waiting request and gives up a running read of another image
when that is quicker; core/inference/read_ahead.py). `is_ready` tells which
cases would be answered at once; `readiness_changed` says when to look again.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Signal

from ecgviewer.core.case import Turn
from ecgviewer.core.conversation import Conversation
from ecgviewer.core.errors import EcgViewerError, EngineCrashError
from ecgviewer.core.inference.client import Finished
from ecgviewer.core.inference.crash import CrashReport
from ecgviewer.core.inference.encode_times import read_time_ms
from ecgviewer.core.inference.loaded import LoadedModel
from ecgviewer.core.inference.read_ahead import image_key
from ecgviewer.core.labels import stop_label
from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.errors import present_error
from ecgviewer.gui.interpretation_panel import InterpretationPanel
from ecgviewer.gui.model_owner import ModelOwner


def reading_status(elapsed_s: float, estimate_ms: float) -> str:
    """The status line while an image is read: a countdown when the last read was timed."""
    left = round(estimate_ms / 1000 - elapsed_s)
    if estimate_ms > 0 and left >= 1:
        return f"Reading image... about {left} s left"
    return f"Reading image... {round(elapsed_s)} s so far"  # first read, or slower than last time


class ReadingController(QObject):
    """Connects the Interpretation panel, the model owner and the open cases."""

    status_changed = Signal(str)
    turn_started = Signal(object, object)  # OpenCase, Turn
    turn_text = Signal(object, object, str)  # OpenCase, Turn, delta
    turn_finished = Signal(object, object)  # OpenCase, Turn
    thread_truncated = Signal(object, int)  # OpenCase, turns kept (Regenerate, New reading)
    readiness_changed = Signal()  # ask is_ready(case) again

    def __init__(self, panel: InterpretationPanel, owner: ModelOwner, parent: QObject) -> None:
        super().__init__(parent)
        self._panel = panel
        self._owner = owner
        self._case: OpenCase | None = None
        self._model: LoadedModel | None = None
        self._tag = 0
        self._active: tuple[int, OpenCase, Conversation] | None = None
        self._conversations: dict[int, tuple[weakref.ref[OpenCase], Conversation]] = {}
        self._first_text_at = 0.0
        self._tokens = 0
        self._preparing_tag = 0
        self._prepare_started = 0.0
        self._ready: frozenset[str] = frozenset()  # image keys the engine answers at once
        self._keys: dict[int, tuple[weakref.ref[OpenCase], str]] = {}  # id -> (case, image key)
        self._settle_timer = QTimer(self, singleShot=True, interval=1000)
        self._settle_timer.timeout.connect(self.prepare_current)
        self._countdown = QTimer(self, interval=500)
        self._countdown.timeout.connect(self._on_countdown_timeout)
        panel.interpret_requested.connect(self._on_panel_interpret_requested)
        panel.stop_requested.connect(self.stop)
        panel.regenerate_requested.connect(self._on_panel_regenerate_requested)
        panel.new_reading_requested.connect(self._on_panel_new_reading_requested)
        owner.prepared.connect(self._on_owner_prepared)
        owner.started.connect(self._on_owner_started)
        owner.text_arrived.connect(self._on_owner_text_arrived)
        owner.finished.connect(self._on_owner_finished)
        owner.failed.connect(self._on_owner_failed)
        owner.engine_stopped.connect(self._on_owner_engine_stopped)
        owner.ready_images.connect(self._on_owner_ready_images)

    # -- state ----------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._active is not None

    @property
    def model(self) -> LoadedModel | None:
        """The model loaded as the GUI thread last heard of it (None while none is)."""
        return self._model

    def conversation(self, case: OpenCase) -> Conversation:
        """The one conversation that owns `case`'s thread (made on first use)."""
        self._conversations = {
            k: v for k, v in self._conversations.items() if v[0]() is not None
        }  # closed cases: gone
        known = self._conversations.get(id(case))
        if known is None or known[0]() is not case:
            known = (weakref.ref(case), Conversation(case.case.thread))
            self._conversations[id(case)] = known
        return known[1]

    def is_ready(self, case: OpenCase) -> bool:
        """Whether Interpret on `case` would start answering at once (its image is read)."""
        known = self._keys.get(id(case))
        if self._model is None or known is None or known[0]() is not case:
            return False  # never asked about in this session: the engine has not read it
        return known[1] in self._ready

    def _png_of(self, case: OpenCase) -> bytes:
        """The model input of `case`, remembering its key for `is_ready`."""
        png = case.model_png()
        self._keys = {k: v for k, v in self._keys.items() if v[0]() is not None}  # closed: gone
        self._keys[id(case)] = (weakref.ref(case), image_key(png))
        return png

    def _on_owner_ready_images(self, keys: frozenset[str]) -> None:
        if keys != self._ready:
            self._ready = keys
            self.readiness_changed.emit()

    def set_status(self, text: str) -> None:
        self._panel.set_status(text)
        self.status_changed.emit(text)

    def set_model(self, model: LoadedModel | None) -> None:
        """The model that answers now: a local pair, a server's (`RemoteModel`), or None."""
        self._model = model
        self._panel.set_model_ready(model is not None)
        self._panel.set_engine_note(" ".join(model.notes) if model else "")
        self._panel.set_where(self.where)
        if model is not None:
            self._panel.set_ecg_model(model.provenance.is_ecg_model)
            self.set_status(self._ready_text(model))
            self.prepare_current()
        else:
            self.set_status("No model - Choose model...")

    @property
    def where(self) -> str:
        """The "Reading on HOST" line when an inference server answers; "" on this computer."""
        return str(getattr(self._model, "where", ""))

    def _ready_text(self, model: LoadedModel) -> str:
        where = f" - {self.where}" if self.where else ""
        return f"Ready - {model.display_name}{where}"

    def set_case(self, case: OpenCase | None, *, settle: bool = False) -> None:
        """Show `case`'s thread; read its image in the background (after edits settle)."""
        self._case = case
        self._panel.show_thread(case.case.thread if case else [])
        self._panel.set_notes(case.case.notes if case else "")
        self.readiness_changed.emit()  # an edited image is not the one read
        if settle:
            self._settle_timer.start()  # another edit within a second restarts the wait
        else:
            self.prepare_current()

    def prepare_current(self) -> None:
        """Speculatively encode the current image so Interpret answers sooner.

        It replaces the read ahead of a case shown before (see the module docstring).
        """
        if self._case is None or self._model is None or self.busy:
            return
        if self.where:  # a server reads the image with each question: nothing to read ahead
            return
        self._tag += 1
        self._preparing_tag = self._tag
        self._prepare_started = time.perf_counter()
        self._owner.prepare_requested.emit(self._tag, self._png_of(self._case))
        self._on_countdown_timeout()
        self._countdown.start()

    def _on_countdown_timeout(self) -> None:
        if self.busy or not self._preparing_tag or self._model is None:
            self._countdown.stop()
            return
        elapsed = time.perf_counter() - self._prepare_started
        self.set_status(reading_status(elapsed, self._model.encode_estimate_ms))

    def _on_owner_prepared(self, tag: int, times: object) -> None:
        measured = read_time_ms(times)
        if self._model is not None and measured > 0:
            self._model = replace(self._model, encode_estimate_ms=measured)  # the next countdown's
        if tag == self._preparing_tag:
            self._preparing_tag = 0
            self._countdown.stop()
            if not self.busy and self._model is not None:
                self.set_status(self._ready_text(self._model))

    def _on_owner_engine_stopped(self, crash: CrashReport) -> None:
        """The worker died: say so now, whatever was awaited; the owner restarts it next."""
        self._stop_waiting_for_engine()
        self.set_status(crash.sentence())

    def _stop_waiting_for_engine(self) -> None:
        self._countdown.stop()
        self._preparing_tag = 0
        self._model = None
        self._panel.set_model_ready(False)

    # -- actions ----------------------------------------------------------------
    def _on_panel_interpret_requested(self, question: str, preset_key: str) -> None:
        self.ask(question, preset_key)

    def ask(self, question: str, preset_key: str = "") -> None:
        case = self._case
        if case is None or self._model is None or self.busy:
            return
        conversation = self.conversation(case)
        conversation.start(question, preset_key)
        self._send(case, conversation)

    def _send(self, case: OpenCase, conversation: Conversation) -> None:
        """Ask the owner for the answer to the conversation's new turn."""
        turn = conversation.active
        assert turn is not None
        self._tag += 1
        self._active = (self._tag, case, conversation)
        self._tokens, self._first_text_at = 0, 0.0
        self._panel.set_busy(True)
        self._panel.show_thread(case.case.thread)
        self._countdown.stop()
        self._preparing_tag = 0
        self.set_status("Reading image...")
        self.turn_started.emit(case, turn)
        history = conversation.history()
        self._owner.interpret_requested.emit(self._tag, self._png_of(case), turn.question, history)

    def stop(self) -> None:
        """Honoured at the worker's next token: the owner sets a shared flag directly."""
        if self._active is not None and self._active[2].stop():
            self.set_status("Stopping...")
            self._owner.cancel()  # an answer that had not begun is "Stopped" at once

    def _on_panel_regenerate_requested(self) -> None:
        case = self._case
        if case is None or not case.case.thread or self.busy or self._model is None:
            return
        conversation = self.conversation(case)
        conversation.regenerate()
        self.thread_truncated.emit(case, len(case.case.thread) - 1)
        self._send(case, conversation)

    def _on_panel_new_reading_requested(self) -> None:
        if self._case is not None and not self.busy:
            self.conversation(self._case).new_reading()
            self.thread_truncated.emit(self._case, 0)
            self._panel.show_thread([])

    # -- events from the model owner -----------------------------------------
    def _current(self, tag: int) -> tuple[OpenCase, Conversation] | None:
        if self._active is None or self._active[0] != tag:
            return None  # late event of a request that was already ended
        return self._active[1], self._active[2]

    def _on_owner_started(self, tag: int) -> None:
        found = self._current(tag)
        if found and not found[1].stopping:
            self.set_status("Generating...")

    def _on_owner_text_arrived(self, tag: int, text: str) -> None:
        found = self._current(tag)
        if found is None:
            return
        case, conversation = found
        turn = conversation.add_text(text)
        self._tokens += 1
        now = time.perf_counter()
        if not self._first_text_at:
            self._first_text_at = now
        if not conversation.stopping and self._tokens % 4 == 0 and now > self._first_text_at:
            rate = (self._tokens - 1) / (now - self._first_text_at)
            self.set_status(f"Generating - {rate:.1f} tok/s")
        if case is self._case:
            self._panel.show_thread(case.case.thread)
        self.turn_text.emit(case, turn, text)

    def _on_owner_finished(self, tag: int, event: Finished) -> None:
        found = self._current(tag)
        if found is None:
            return
        case, conversation = found
        turn = conversation.finish(event, self._model)
        self._end(case, turn)
        if turn.stop_reason == "cancelled":
            self.set_status("Stopped")
        else:
            seconds = (turn.timings.total_ms or 0.0) / 1000.0
            rate = turn.timings.tokens_per_second or 0.0
            ending = stop_label(turn.stop_reason)  # the panel's words, e.g. at the token limit
            suffix = f": {ending[:1].lower()}{ending[1:]}" if ending else ""
            self.set_status(f"Done in {seconds:.1f} s ({rate:.1f} tok/s){suffix}")

    def _on_owner_failed(self, tag: int, error: EcgViewerError) -> None:
        found = self._current(tag)
        if isinstance(error, EngineCrashError):  # status and note, never a dialog per crash
            self._stop_waiting_for_engine()
            self._panel.set_engine_note(f"{error.message} {error.hint}".strip())
            if found is not None:
                self._end(found[0], found[1].fail())
            self.set_status(f"{error.message} {error.hint}".strip())
            return
        if found is None:
            if self._active is None:  # a background prepare failed: say so, quietly
                self.set_status(f"Error: {error.message}")
            return
        self._end(found[0], found[1].fail())  # the partial answer is kept, marked incomplete
        self.set_status(f"Error: {error.message}")
        present_error(self._panel.window(), error)

    def _end(self, case: OpenCase, turn: Turn) -> None:
        self._active = None
        self._panel.set_busy(False)
        if case is self._case:
            self._panel.show_thread(case.case.thread)
        else:  # the clinician moved on while it answered: read ahead for the case now shown
            QTimer.singleShot(0, self.prepare_current)
        self.turn_finished.emit(case, turn)
