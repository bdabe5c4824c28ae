"""Digital ECG recordings (WFDB, DICOM waveform, vendor XML, SCP-ECG): read, then drawn.

Every reader returns one plain `EcgRecord` (record.py); the renderer draws it as a
standard paper page (render.py), which becomes the case's image.
"""
