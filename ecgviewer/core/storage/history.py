"""The case history: every case kept locally, nothing lost on a crash.

`CaseHistory` is the one API the GUI, the CLI and the tests use. One instance
per process is the intended use (more work, each with its own writer lease).

Threads: every public method may be called from any thread. They share one
SQLite connection under one lock, so a call can wait behind another (up to
the 5 s busy timeout when a second app instance is writing); the GUI should
call them from its background worker, never from the GUI thread, except
`append_answer`, which only touches memory and may be called from the thread
that receives tokens. A private daemon thread writes streamed text every
250 ms or 64 deltas.

Processes: two app instances may use the same database at once (WAL, a busy
timeout, short BEGIN IMMEDIATE transactions; see docs/history.md).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from ecgviewer.core.case import Case, Turn, now_iso
from ecgviewer.core.errors import StorageError
from ecgviewer.core.paths import AppPaths, app_paths
from ecgviewer.core.storage.blobs import BlobStore
from ecgviewer.core.storage.codec import (
    INTERRUPTED,
    case_from_row,
    case_values,
    dump,
    turn_from_row,
    turn_values,
)
from ecgviewer.core.storage.database import (
    OpenedDatabase,
    make_private_folder,
    open_database,
    storage_errors,
    transaction,
)
from ecgviewer.core.storage.errors import CaseNotFoundError
from ecgviewer.core.storage.rows import (
    add_pdfs,
    append_new_turns,
    insert_turn,
    missing,
    touch,
    update_row,
    write_case,
)
from ecgviewer.core.storage.search import (
    DEFAULT_LIMIT,
    CaseSummary,
    register_functions,
    search_cases,
)
from ecgviewer.core.storage.streaming import AnswerBuffer, Flusher
from ecgviewer.core.storage.writers import WriterLease, writer_alive

log = logging.getLogger(__name__)


class CaseHistory:
    """Cases, their threads and their original scans, in a local SQLite database.

    Build it with `CaseHistory.open(paths)` (or `open_files`), not directly.
    `recovered_from` is where a damaged database was moved (tell the user),
    `upgraded_from` the schema version an older database was upgraded from.
    """

    def __init__(self, database: OpenedDatabase, database_file: Path, blobs: BlobStore) -> None:
        self.database_file = database_file
        self.recovered_from: Path | None = database.recovered_from
        self.upgraded_from: int | None = database.upgraded_from
        self._conn = database.conn
        self._blobs = blobs
        self._lease_dir = database_file.with_name(database_file.name + ".writers")
        self._lease = WriterLease(self._lease_dir)
        self._lock = threading.RLock()
        self._buffer = AnswerBuffer()
        self._flusher = Flusher(self.flush)
        self._closed = False
        register_functions(self._conn)

    @property
    def recovery_notice(self) -> str:
        """What to tell the user after a damaged history was replaced ("" if it was not)."""
        if self.recovered_from is None:
            return ""
        return (
            "The case history could not be read, so a new, empty one was started. "
            f"The old file was kept as {self.recovered_from}; nothing was deleted."
        )

    # -- opening and closing ------------------------------------------------

    @classmethod
    def open(cls, paths: AppPaths | None = None) -> CaseHistory:
        """Open the history in the per-user data folder (`ECGVIEWER_HOME` honoured)."""
        paths = paths or app_paths()
        return cls.open_files(paths.database_file, paths.blob_dir)

    @classmethod
    def open_files(cls, database_file: Path, blob_dir: Path) -> CaseHistory:
        """Open (create, recover or upgrade) the history at explicit locations.

        Raises `NewerHistoryError` for a database from a newer app (left as it
        is) and `StorageError` when the folder cannot be written.
        """
        database = open_database(database_file)
        try:
            with storage_errors("prepare the scan store"):
                make_private_folder(blob_dir)
                blobs = BlobStore(blob_dir)
                blobs.clean_staging()
                history = cls(database, database_file, blobs)
        except BaseException:
            database.conn.close()
            raise
        try:
            history.recover_interrupted()
        except BaseException:
            history.close()
            raise
        return history

    def close(self) -> None:
        """Write what is buffered, stop the flusher, close the database (idempotent)."""
        if self._closed:
            return
        self._flusher.stop()
        try:
            self.flush()
        finally:
            with self._lock:
                self._conn.close()
                self._lease.release()
                self._closed = True

    def __enter__(self) -> CaseHistory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def recover_interrupted(self) -> int:
        """Mark answers whose writing process died as "interrupted"; return how many.

        Called by `open`. Turns streamed by a live instance are left alone.
        """
        with self._lock, storage_errors("check for interrupted answers"):
            rows = self._conn.execute(
                "SELECT DISTINCT writer FROM turns WHERE stop_reason IS NULL"
            ).fetchall()
            dead = [row[0] for row in rows if not self._writer_live(row[0])]
            if not dead:
                return 0
            marked = 0
            with transaction(self._conn):
                for token in dead:
                    marked += self._conn.execute(
                        "UPDATE turns SET stop_reason = ?, writer = NULL "
                        "WHERE stop_reason IS NULL AND writer IS ?",
                        (INTERRUPTED, token),
                    ).rowcount
        log.info("case history: %d interrupted answers marked", marked)
        return marked

    def _writer_live(self, token: str | None) -> bool:
        return token == self._lease.token or writer_alive(self._lease_dir, token)

    # -- cases --------------------------------------------------------------

    def save_case(self, case: Case, source: Path | bytes) -> int:
        """Store a case and its original file's bytes; return its id (also set on `case`).

        A new case (no `case_id`) is inserted with its thread and exported PDFs.
        For a stored case the case-level fields are updated, turns beyond those
        already stored are appended and new PDF paths added: the stored thread
        is append-only and changed only through `begin_turn`/`finish_turn`.
        """
        with storage_errors("save the case"):
            # Hash and copy outside the lock: a big scan must not hold up streaming.
            sha = self._blobs.put(source)
            self._check_source(case, sha)
            now = now_iso()
            values = case_values(case) | {
                "source_sha256": sha,
                "created_at": case.created_at or now,
                "updated_at": now,
            }
            with self._lock, transaction(self._conn):
                if not self._blobs.contains(sha):  # removed by a delete in between
                    self._blobs.put(source)
                case_id = write_case(self._conn, case.case_id, values)
                append_new_turns(self._conn, case_id, case.thread)
                add_pdfs(self._conn, case_id, case.exported_pdfs, now)
        case.source.sha256 = sha
        case.created_at = values["created_at"]
        case.updated_at = now
        case.case_id = case_id
        return case_id

    @staticmethod
    def _check_source(case: Case, sha: str) -> None:
        if case.source.sha256 and case.source.sha256 != sha:
            raise StorageError(
                f"The file {case.source.name} changed on disk after it was opened.",
                hint="Open it again to start a new case from its current content.",
            )

    def update_notes(self, case_id: int, notes: str) -> None:
        """Replace the clinician's notes."""
        self._update(case_id, "save the notes", notes=notes)

    def update_study(self, case_id: int, study: dict[str, str]) -> None:
        """Replace the study fields (keys from `core.case.STUDY_FIELDS`)."""
        self._update(case_id, "save the study fields", study_json=dump(study))

    def update_steps(self, case_id: int, steps: list[dict[str, Any]]) -> None:
        """Replace the preprocessing steps (JSON-ready dicts, stored exactly)."""
        self._update(case_id, "save the preprocessing steps", steps_json=dump(steps))

    def _update(self, case_id: int, action: str, **columns: str) -> None:
        values = columns | {"updated_at": now_iso()}
        with self._lock, storage_errors(action), transaction(self._conn):
            if update_row(self._conn, "cases", case_id, values) == 0:
                raise missing(case_id)

    def add_exported_pdf(self, case_id: int, path: Path | str) -> None:
        """Record that a PDF report was exported from the case (once per path; not copied)."""
        now = now_iso()
        with self._lock, storage_errors("record the exported PDF"), transaction(self._conn):
            touch(self._conn, case_id, now)
            add_pdfs(self._conn, case_id, [str(path)], now)

    def load_case(self, case_id: int) -> Case:
        """The case as stored: source, steps, thread in order, notes, study, PDFs.

        An answer whose writer died reads with stop_reason "interrupted"; one
        still being streamed (by this or another live instance) reads as None
        with the text received so far.
        """
        with self._lock, storage_errors("open the case"):
            with transaction(self._conn, write=False):
                row = self._conn.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
                turns = self._conn.execute(
                    "SELECT * FROM turns WHERE case_id = ? ORDER BY position", (case_id,)
                ).fetchall()
                pdfs = self._conn.execute(
                    "SELECT path FROM exported_pdfs WHERE case_id = ? ORDER BY id", (case_id,)
                ).fetchall()
            if row is None:
                raise missing(case_id)
            thread = [self._turn(turn) for turn in turns]
        return case_from_row(row, thread, [pdf[0] for pdf in pdfs])

    def _turn(self, row: sqlite3.Row) -> Turn:
        own = row["writer"] == self._lease.token
        if row["stop_reason"] is not None:
            streaming = False
        elif own:  # ours: streaming until finished (a failed finish reads as interrupted)
            streaming = self._buffer.is_open(row["id"])
        else:
            streaming = writer_alive(self._lease_dir, row["writer"])
        turn = turn_from_row(row, streaming=streaming)
        if streaming and own:
            turn.answer += self._buffer.waiting_text(row["id"])
        return turn

    def search(self, query: str = "", limit: int = DEFAULT_LIMIT) -> list[CaseSummary]:
        """Cases whose file name, creation date, study, thread or notes contain every word."""
        with self._lock, storage_errors("search the case history"):
            return search_cases(self._conn, query, limit)

    def source_path(self, case_id: int) -> Path:
        """The stored copy of the case's original file (byte-identical to what was opened)."""
        with self._lock, storage_errors("find the stored scan"):
            row = self._conn.execute(
                "SELECT source_sha256 FROM cases WHERE id = ?", (case_id,)
            ).fetchone()
            if row is None:
                raise missing(case_id)
            return self._blobs.get_path(row[0])

    def delete_case(self, case_id: int) -> None:
        """Delete a case, its thread and its PDF list; its scan too when no other case uses it.

        Exported PDF files themselves are the user's and are left where they are.
        """
        staged: Path | None = None
        sha = ""
        with self._lock, storage_errors("delete the case"):
            try:
                with transaction(self._conn):
                    row = self._conn.execute(
                        "SELECT source_sha256 FROM cases WHERE id = ?", (case_id,)
                    ).fetchone()
                    if row is None:
                        raise missing(case_id)
                    sha = row[0]
                    self._conn.execute("DELETE FROM cases WHERE id = ?", (case_id,))
                    users = self._conn.execute(
                        "SELECT count(*) FROM cases WHERE source_sha256 = ?", (sha,)
                    ).fetchone()[0]
                    if users == 0:
                        # Inside the write lock, so a concurrent save puts it back.
                        staged = self._blobs.stage_removal(sha)
            except BaseException:
                if staged is not None:
                    self._blobs.undo_removal(staged, sha)
                raise
        if staged is not None:
            staged.unlink(missing_ok=True)

    def truncate_thread(self, case_id: int, keep: int) -> None:
        """Forget the case's turns after its first `keep`, as the window did.

        Regenerate replaces the last answer and New reading starts over; the
        stored thread must stay the one the clinician sees, or a reopened case
        would show, and replay to the model, answers that were discarded.
        """
        with self._lock, storage_errors("update the conversation"):
            with transaction(self._conn):
                touch(self._conn, case_id, now_iso())
                rows = self._conn.execute(
                    "SELECT id FROM turns WHERE case_id = ? ORDER BY position", (case_id,)
                ).fetchall()
                dropped = [row[0] for row in rows[max(0, keep) :]]
                self._conn.executemany("DELETE FROM turns WHERE id = ?", [(i,) for i in dropped])
            for turn_id in dropped:
                self._buffer.close_turn(turn_id)

    # -- streaming answers --------------------------------------------------

    def begin_turn(self, case_id: int, turn: Turn) -> int:
        """Store a question before its answer streams; return the turn id.

        The turn reads as streaming (stop_reason None) until `finish_turn`; if
        this process dies first it reads as "interrupted" with the text so far.
        """
        now = now_iso()
        values = turn_values(turn) | {"stop_reason": None}
        with self._lock, storage_errors("save the question"), transaction(self._conn):
            touch(self._conn, case_id, now)
            turn_id = insert_turn(self._conn, case_id, values, writer=self._lease.token)
        self._buffer.open_turn(turn_id)
        self._flusher.start()
        return turn_id

    def append_answer(self, turn_id: int, delta: str) -> None:
        """Queue streamed text; written within 250 ms or once 64 deltas wait.

        Memory only, never blocks on the disk. Deltas for a turn that is not
        streaming here (finished, or from an old request) are dropped.
        """
        if self._buffer.append(turn_id, delta):
            self._flusher.wake()

    def flush(self) -> None:
        """Write all queued text now, in one transaction (the flusher calls this too)."""
        with self._lock:
            batch = self._buffer.drain()
            if not batch:
                return
            try:
                with storage_errors("save the answer so far"), transaction(self._conn):
                    self._conn.executemany(
                        "UPDATE turns SET answer = answer || ? WHERE id = ?",
                        [(text, turn_id) for turn_id, text in batch.items()],
                    )
            except BaseException:
                self._buffer.restore(batch)
                raise

    def finish_turn(self, turn_id: int, turn: Turn) -> None:
        """Store the final answer, stop reason, timings, provenance and decoding settings.

        `turn.answer` is the whole answer and replaces the streamed text.
        """
        if turn.stop_reason is None:
            raise ValueError("finish_turn needs the turn's stop_reason")
        values = turn_values(turn) | {"writer": None}
        with self._lock, storage_errors("save the answer"):
            self._buffer.close_turn(turn_id)
            with transaction(self._conn):
                if update_row(self._conn, "turns", turn_id, values) == 0:
                    raise CaseNotFoundError(
                        "The case of this answer is no longer in the case history.",
                        hint="It may have been deleted in another ECG Viewer window.",
                    )
                self._conn.execute(
                    "UPDATE cases SET updated_at = ? "
                    "WHERE id = (SELECT case_id FROM turns WHERE id = ?)",
                    (now_iso(), turn_id),
                )
