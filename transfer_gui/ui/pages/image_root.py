"""The Data page's image-root row: where a labels CSV's relative paths are read from.

Annotation tools often export a CSV whose paths are relative to some other folder than the
CSV's own; this row (the window's `--image-root`) names that folder. It shows only while a
labels CSV is open.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from ...core import option_named
from ..widgets.inputs.folder_field import FolderField

PLACEHOLDER = "the CSV's own folder"


class ImageRootRow(QWidget):
    """"Image root: <folder> [Choose…] [Reset]"; `changed` carries the folder ("" = the CSV's
    own folder)."""

    changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from ...core import DataConfig

        cli = option_named(DataConfig, "image_root").command_line
        tip = (cli.help if cli else "") or ""
        self.field = FolderField(empty=PLACEHOLDER)
        self.field.setToolTip(tip[:1].upper() + tip[1:])
        self.field.choose_clicked.connect(self._choose)
        self.reset_button = QPushButton("Use the CSV's folder")
        self.reset_button.setToolTip("Read the CSV's relative paths from its own folder")
        self.reset_button.clicked.connect(lambda: self.choose(""))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel("Image root:")
        label.setToolTip(self.field.toolTip())
        layout.addWidget(label)
        layout.addWidget(self.field, 1)
        layout.addWidget(self.reset_button)
        self.set_root(None)

    def set_root(self, root: str | None) -> None:
        """Show `root` without saying it changed (a project loaded)."""
        self.field.set_path(root or "")
        self.reset_button.setEnabled(bool(root))

    def choose(self, root: str) -> None:
        self.set_root(root)
        self.changed.emit(root)

    @Slot()
    def _choose(self) -> None:
        start = self.field.path or os.path.expanduser("~")
        folder = QFileDialog.getExistingDirectory(
            self, "Choose the folder the CSV's image paths are relative to", start)
        if folder:
            self.choose(os.path.abspath(folder))
