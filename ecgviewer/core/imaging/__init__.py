"""Images: decoding scans and PDFs, the preprocessing pipeline, the model-input view.

- `loading.load_image(path, page)`: any supported file to 8-bit RGB (`LoadedImage`).
- `pipeline.auto_preprocess(original, PreprocessOptions())`: detect and record the steps.
- `ecgimage.EcgImage`: original + steps + result + transform; manual overrides.
- `model_input.model_input_image(result)`: the exact 896 x 896 pixels sent to the model.
- `ecgviewer.core.workspace.open_case(path)` combines all of the above for one file.

See docs/preprocessing.md.
"""
