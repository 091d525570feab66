"""The window's steps by name: the sidebar's entries, in order, and the page behind each
(`Step.TRAIN`, not 2). Plain Python, so the pages and windows that ask for a step import it
without the main window."""

from __future__ import annotations

from enum import IntEnum


class Step(IntEnum):
    """A step of the sidebar; its value is its row and its page's place in the stack."""

    DATA = 0
    MODEL = 1
    TRAIN = 2
    EVALUATE = 3
    PREDICT = 4
    COMPARE = 5
    LABEL = 6

    @property
    def title(self) -> str:
        """The sidebar's and the View menu's text."""
        return self.name.capitalize()

    @property
    def icon(self) -> str:
        """The name of its icon (`resources.icon`)."""
        return self.name.lower()
