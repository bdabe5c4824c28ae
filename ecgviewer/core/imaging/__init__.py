"""Images: decoding scans and PDFs, the preprocessing pipeline, the model-input view."""
