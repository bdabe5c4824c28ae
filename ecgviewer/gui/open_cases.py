"""The window's open cases, their prepared previews, and edits swapped in as new values.

An edit never changes the case it started from: it delivers a new `OpenCase`
(with a new `Case` record) that `swap` puts in the old one's place. The case
history follows a new record by its case id; a record swapped in before the
history gave its predecessor an id gets that id once it arrives (`adopt_ids`).
Everything here runs on the GUI thread.
"""

from __future__ import annotations

from ecgviewer.core.case import Case
from ecgviewer.core.workspace import OpenCase
from ecgviewer.gui.previews import Previews


class OpenCases:
    """The open cases in strip order, with the previews each one is shown from."""

    def __init__(self) -> None:
        self.cases: list[OpenCase] = []
        self._previews: dict[int, Previews] = {}  # by id() of the OpenCase in `cases`
        self._first: dict[int, Case] = {}  # id() of an unsaved record -> the one stored first

    def index(self, case: OpenCase) -> int:
        """The row of `case` (this very value), or -1 when it is no longer open."""
        return next((row for row, open_ in enumerate(self.cases) if open_ is case), -1)

    def add(self, case: OpenCase, previews: Previews | None) -> None:
        self.cases.append(case)
        if previews is not None:
            self._previews[id(case)] = previews

    def previews(self, case: OpenCase) -> Previews | None:
        return self._previews.get(id(case)) if self.index(case) >= 0 else None

    def set_previews(self, case: OpenCase, previews: Previews) -> None:
        if self.index(case) >= 0:
            self._previews[id(case)] = previews

    def remove(self, case: OpenCase) -> None:
        row = self.index(case)
        if row >= 0:
            self.cases.pop(row)
            self._previews.pop(id(case), None)
            self._first.pop(id(case.case), None)

    def swap(self, before: OpenCase, edited: OpenCase, previews: Previews) -> OpenCase | None:
        """Put the edit of `before` in its place; None when `before` was closed meanwhile."""
        row = self.index(before)
        if row < 0:
            return None
        after = edited.succeeding(before)
        self.cases[row] = after
        self._previews.pop(id(before), None)
        self._previews[id(after)] = previews
        first = self._first.pop(id(before.case), before.case)
        if after.case.case_id is None:  # not stored yet: the id will reach `first`
            self._first[id(after.case)] = first
        return after

    def adopt_ids(self) -> list[OpenCase]:
        """Cases whose first record was stored since they were swapped in: they take its id."""
        adopted = []
        for case in self.cases:
            first = self._first.get(id(case.case))
            if first is not None and first.case_id is not None:
                del self._first[id(case.case)]
                record = case.case
                record.case_id, record.created_at = first.case_id, first.created_at
                record.source.sha256 = first.source.sha256
                adopted.append(case)
        return adopted
