"""Guard against a Qt binding that corrupts reference counts (it crashes the app later).

PySide6 6.12.0 released a reference to None on every call of a method that
returns nothing (setEnabled, setText...). On Python 3.11, where None is not
immortal, a few thousand calls abort the interpreter; streaming an answer
makes thousands. The pin in pyproject.toml avoids it; this test catches a
future release with the same defect.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel, QPushButton


def test_void_methods_keep_none_and_bool_reference_counts(qapp: object) -> None:
    button, label = QPushButton("x"), QLabel("y")
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(200):
        button.setEnabled(True)
        label.setText("streamed text")
        button.isEnabled()
    assert sys.getrefcount(None) - none_before >= -5
    assert sys.getrefcount(True) - true_before >= -5
