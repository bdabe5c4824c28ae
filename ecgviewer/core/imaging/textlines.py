"""Which way up the printed text of an ECG page is: a cue for orient.py.

Latin text has far more ascenders (capitals, digits, b d f h k l t) than descenders
(g j p q y), so within a line the glyphs' bottoms share the baseline while their tops
are ragged (x-height letters next to tall ones). On a page turned by 180 degrees the
ragged edge is at the bottom. The glyphs are the small, compact blobs of the trace-ink
mask (traces.py) that keep clear of long marks (traces, separators); they are chained
into lines by height and position. Separator bars taller than the line's glyphs are
left out, as capital-only labels (V1, II) simply add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_GLYPH_PX, MAX_GLYPH_PX = 5, 30  # glyph heights at working scale
LONG_MARK_PX = 40  # a blob wider than this, or taller than MAX_GLYPH_PX, is not text
CLEARANCE_PX = 7  # glyphs keep at least about half this from long marks
LINE_GAP = 1.2  # glyph heights: the widest gap between neighbours in one line
SEPARATOR = 1.25  # thin blobs taller than this many line heights are bars, not glyphs


@dataclass(frozen=True)
class TextCue:
    """How much more ragged the tops of text lines are than their bottoms."""

    score: float  # >0: upright text; a mean per glyph, in line heights
    glyphs: int  # how many glyphs voted


def text_cue(ink: np.ndarray) -> TextCue:
    """The text cue of a 0/1 ink mask whose traces run left to right."""
    total, count = 0.0, 0
    for chain in _lines(_glyphs(ink)):
        height = float(np.median(chain[:, 3]))
        bar = (chain[:, 3] > SEPARATOR * height) & (chain[:, 2] < 0.4 * chain[:, 3])
        line = chain[~bar]
        if len(line) < 2:
            continue
        tops = line[:, 1].astype(np.float64)
        bottoms = tops + line[:, 3]
        ragged = np.abs(tops - np.median(tops)).mean() - np.abs(bottoms - np.median(bottoms)).mean()
        total += ragged / height * len(line)
        count += len(line)
    return TextCue(total / max(count, 1), count)


def _glyphs(ink: np.ndarray) -> np.ndarray:
    """Boxes (x, y, w, h, area) of small compact blobs clear of long marks, sorted by x."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    long_marks = (w > LONG_MARK_PX) | (h > MAX_GLYPH_PX)
    long_marks[0] = False
    near = cv2.dilate(long_marks[labels].astype(np.uint8), np.ones((CLEARANCE_PX,) * 2, np.uint8))
    crowded = np.zeros(n, bool)
    crowded[np.unique(labels[near > 0])] = True
    glyph = (h >= MIN_GLYPH_PX) & ~long_marks & (w <= 1.5 * h + 2) & (area >= 0.2 * w * h)
    glyph &= ~crowded
    glyph[0] = False
    boxes: np.ndarray = stats[glyph]
    return np.asarray(boxes[np.argsort(boxes[:, 0], kind="stable")])


def _lines(boxes: np.ndarray) -> list[np.ndarray]:
    """Chains of two or more glyphs of similar height, side by side at one level."""
    used = np.zeros(len(boxes), bool)
    listed = boxes.tolist()  # plain ints: much faster to compare one by one
    lines = []
    for i in range(len(boxes)):
        if used[i]:
            continue
        used[i] = True
        members = [i, *_followers(listed, i, used)]
        if len(members) >= 2:
            lines.append(boxes[members])
    return lines


def _followers(boxes: list[list[int]], first: int, used: np.ndarray) -> list[int]:
    """The glyphs to the right of `first` in its line (marked used)."""
    x, y, w, h = boxes[first][:4]
    right, middle, found = x + w, y + h / 2, []
    for j in range(first + 1, len(boxes)):
        xj, yj, wj, hj = boxes[j][:4]
        if xj > right + 3 * h:
            break
        near = xj - right <= LINE_GAP * max(h, hj) and 0.5 < hj / h < 2
        if not used[j] and near and abs(yj + hj / 2 - middle) < 0.35 * max(h, hj):
            used[j] = True
            found.append(j)
            right = max(right, xj + wj)
    return found
