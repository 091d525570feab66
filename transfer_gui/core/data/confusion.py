"""The confusion matrix: counted from true and predicted labels, and drawn as an image.

The image is for logs that keep pictures (TensorBoard): rows are the true classes, columns the
predicted ones, each cell shaded by its share of its row (the class's recall on the diagonal)
with its count written in it, and the class names beside the rows and above the columns where
they fit (numbers above the columns otherwise, the rows then saying which number is which).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MAX_SIDE = 768  # the cells' square at most, in pixels
CELL = (8, 64)  # a cell's smallest and largest side
LABEL_WIDTH = 160  # the row names' column at most
PAD = 6
Font = ImageFont.ImageFont | ImageFont.FreeTypeFont
LIGHT, DARK = np.array([247, 251, 255]), np.array([8, 48, 107])  # a share of 0 and of 1


def confusion_matrix(targets: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(targets, dtype=np.int64), np.asarray(preds, dtype=np.int64)), 1)
    return matrix


def confusion_image(matrix: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """The matrix drawn as an RGB image, (height, width, 3) uint8. Its size depends only on
    the number of classes and their names, not on the counts."""
    font = ImageFont.load_default(size=11)
    n = max(len(classes), 1)
    cell = int(np.clip(MAX_SIDE // n, *CELL))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def width(text: str) -> int:
        return int(measure.textlength(text, font=font))

    names_fit = all(width(c) + 4 <= cell for c in classes)
    labels = cell >= 14  # room for a line of text beside each row
    columns = list(classes) if names_fit else [str(i) for i in range(len(classes))]
    rows = list(classes) if names_fit else [f"{i}: {c}" for i, c in enumerate(classes)]
    rows = [_fit(r, LABEL_WIDTH, width) for r in rows] if labels else []
    corner = "true \\ predicted"
    left = PAD + max([width(corner), *map(width, rows)]) + PAD
    top = PAD + 14 + PAD
    image = Image.new("RGB", (left + n * cell + PAD, top + n * cell + PAD), "white")
    draw = ImageDraw.Draw(image)
    draw.text((PAD, PAD), corner, fill="black", font=font)
    _cells(draw, matrix, (left, top), cell, font, width)
    if labels:
        for i, name in enumerate(columns):
            draw.text((left + i * cell + (cell - width(name)) // 2, PAD + 2), name, fill="black",
                      font=font)
        for i, name in enumerate(rows):
            draw.text((PAD, top + i * cell + (cell - 12) // 2), name, fill="black", font=font)
    return np.asarray(image, dtype=np.uint8)


def _cells(draw: ImageDraw.ImageDraw, matrix: np.ndarray, origin: tuple[int, int], cell: int,
           font: Font, width: Callable[[str], int]) -> None:
    left, top = origin
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    for (r, c), value in np.ndenumerate(matrix):
        share = float(shares[r, c])
        colour = tuple(int(v) for v in LIGHT + (DARK - LIGHT) * share)
        box = (left + c * cell, top + r * cell, left + (c + 1) * cell - 1,
               top + (r + 1) * cell - 1)
        draw.rectangle(box, fill=colour, outline=(200, 200, 200))
        text = str(int(value))
        if cell >= 14 and width(text) + 2 <= cell:
            draw.text((box[0] + (cell - width(text)) // 2,
                       box[1] + (cell - 12) // 2), text,
                      fill="white" if share > 0.5 else "black", font=font)


def _fit(text: str, room: int, width: Callable[[str], int]) -> str:
    """`text`, shortened with an ellipsis to `room` pixels."""
    if width(text) <= room:
        return text
    while text and width(text + "…") > room:
        text = text[:-1]
    return text + "…"
