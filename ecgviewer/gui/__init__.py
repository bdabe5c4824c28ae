"""The Qt desktop GUI: thin views over ecgviewer.core. All Qt code lives here."""
