"""The Qt-free core of ECG Viewer.

Everything a clinician can do in the window is a core function first: images,
preprocessing, the model runtime, prompts, reports, storage and the CLI live
here and never import Qt (enforced by import-linter and tests/core).
"""
