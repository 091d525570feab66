"""A progress bar that follows the `Progress` events of background work."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QProgressBar

from ....core import Progress


class JobProgress(QProgressBar):
    @Slot(list)
    def on_events(self, events: list) -> None:
        """Connect a task's `events` here: the bar shows the latest `Progress`."""
        for event in events:
            if isinstance(event, Progress) and event.total:
                self.setRange(0, event.total)
                self.setValue(event.done)
