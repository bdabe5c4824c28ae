"""ECG Viewer: offline AI-assisted reading of scanned 12-lead ECGs (research use only)."""

__version__ = "0.1.0"

DISCLAIMER = "AI-generated draft, not validated for clinical use"
"""The sentence that belongs on every screen and page showing model output."""

DRAFT_LABEL = "AI-generated draft - not a diagnosis"
"""Label placed directly on model output in the side panel."""

REPORT_FOOTER = "AI-generated draft - not validated for clinical use - not a diagnosis"
"""Footer printed on every page of an exported report."""
