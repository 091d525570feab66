"""Eight augmented versions of one training image, as training would see them.

The versions are computed in a background task (decoding a large photo can take a moment), and
a request made while another is running supersedes it: only the newest result is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from ...worker import start_job

COUNT = 8
TILE = 76  # pixels on screen per version
COLUMNS = 4


@dataclass(frozen=True)
class PreviewRequest:
    path: str  # a training image
    backbone: str
    image_size: int | None
    augment: str  # a resolved preset name


def render(request: PreviewRequest, callbacks: list, cancel: object) -> list[QImage]:
    """The versions as QImages (runs in a worker thread; QImage is safe there)."""
    from ....core import Preprocess, augment_preview, get_spec

    pre = Preprocess.for_backbone(get_spec(request.backbone), request.image_size)
    out = []
    for tensor in augment_preview(request.path, pre, request.augment, COUNT):
        hwc = tensor.permute(1, 2, 0).contiguous().numpy()
        image = QImage(hwc.data, hwc.shape[1], hwc.shape[0], 3 * hwc.shape[1],
                       QImage.Format.Format_RGB888)
        out.append(image.copy())  # own the pixels: the array goes away
    return out


class AugmentPreview(QGroupBox):
    """Shows `COUNT` augmented versions of an image; `show_for(request)` redraws them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Augmentation preview", parent)
        self.setToolTip("How training sees one of your images under the chosen augmentation: "
                        "each epoch draws new random crops, flips and colour changes")
        self.tiles = [self._tile() for _ in range(COUNT)]
        grid = QGridLayout()
        grid.setSpacing(4)
        for i, tile in enumerate(self.tiles):
            grid.addWidget(tile, i // COLUMNS, i % COLUMNS)
        self.caption = QLabel("Choose a data folder to see how its images are augmented.")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.caption)
        self.shown: PreviewRequest | None = None
        self._wanted: PreviewRequest | None = None
        self._task: Any = None

    @staticmethod
    def _tile() -> QLabel:
        tile = QLabel()
        tile.setFixedSize(TILE, TILE)
        tile.setAlignment(Qt.AlignmentFlag.AlignCenter)
        tile.setStyleSheet("background: palette(mid);")
        return tile

    def show_for(self, request: PreviewRequest | None) -> None:
        """Redraw for `request` (None clears); unchanged requests cost nothing."""
        if request == self._wanted:
            return
        self._wanted = request
        if request is None:
            self._clear("Choose a data folder to see how its images are augmented.")
        elif self._task is None:
            self._start(request)

    def _start(self, request: PreviewRequest) -> None:
        self._task = start_job(partial(render, request), "augment preview", self)
        self._task.succeeded.connect(partial(self._on_rendered, request))
        self._task.failed.connect(self._on_failed)
        self._task.done.connect(self._on_done)

    @Slot()
    def _on_done(self) -> None:
        self._task = None
        if self._wanted is not None and self._wanted != self.shown:
            self._start(self._wanted)  # the preset changed while this one was drawn

    def _on_rendered(self, request: PreviewRequest, images: list[QImage]) -> None:
        if request != self._wanted:
            return
        for tile, image in zip(self.tiles, images, strict=False):
            tile.setPixmap(QPixmap.fromImage(image).scaled(
                TILE, TILE, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        name = request.path.replace("\\", "/").rsplit("/", 1)[-1]
        what = ("no augmentation: the centre crop every epoch" if request.augment == "none"
                else f"preset '{request.augment}'")
        self.caption.setText(f"{name}, {what}")
        self.shown = request

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self._clear(f"No preview: {message}")
        self.shown = self._wanted  # do not retry the same failing request

    def _clear(self, text: str) -> None:
        for tile in self.tiles:
            tile.clear()
        self.caption.setText(text)
        self.shown = None
