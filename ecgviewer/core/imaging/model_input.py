"""The exact pixels the model receives: the straightened ECG resized to 896 x 896.

MedGemma-ECG's vision tower (SigLIP, Gemma 3 projector) takes 896 x 896 RGB.
The app stretches the result to that square itself, without keeping the
aspect ratio, because

- the model was fine-tuned through Hugging Face's Gemma3ImageProcessor, which
  (pan-and-scan off) resizes every image to 896 x 896 with PIL bilinear
  resampling and no padding; we use the same resampling;
- llama.cpp's mtmd would otherwise letterbox a non-square image onto black
  (projector type gemma3: aspect-preserving bilinear resize, black padding),
  which the model never saw in training and which spends about a quarter of
  the image tokens of a landscape page on black bars;
- an 896 x 896 input passes through mtmd's resize unchanged, so this preview
  is exactly what the model sees.

Measurements and sources: docs/preprocessing.md.
"""

from __future__ import annotations

import math

from PIL import Image

MODEL_INPUT_SIZE = 896
RESAMPLING = Image.Resampling.BILINEAR  # Gemma3ImageProcessor's default (resample=2)


def model_input_image(result: Image.Image) -> Image.Image:
    """The 896 x 896 RGB image sent to the model for `result` (any size)."""
    rgb = result if result.mode == "RGB" else result.convert("RGB")
    if rgb.size == (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE):
        return rgb.copy()
    return rgb.resize((MODEL_INPUT_SIZE, MODEL_INPUT_SIZE), RESAMPLING)


def letterboxed_image(result: Image.Image, fill: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """What llama.cpp's mtmd would make of `result` by itself (for comparison only):
    aspect-preserving resize, centred on a black square."""
    rgb = result if result.mode == "RGB" else result.convert("RGB")
    width, height = rgb.size
    scale = min(MODEL_INPUT_SIZE / width, MODEL_INPUT_SIZE / height)
    new_w = min(MODEL_INPUT_SIZE, math.ceil(width * scale - 1e-9))
    new_h = min(MODEL_INPUT_SIZE, math.ceil(height * scale - 1e-9))
    canvas = Image.new("RGB", (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE), fill)
    resized = rgb.resize((max(1, new_w), max(1, new_h)), Image.Resampling.BILINEAR)
    canvas.paste(resized, ((MODEL_INPUT_SIZE - new_w) // 2, (MODEL_INPUT_SIZE - new_h) // 2))
    return canvas
