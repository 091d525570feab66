"""A status line that can be overruled by a problem: while the problem lasts it is shown
instead, and once it is gone the line says again what it said before."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget


class StatusLine(QLabel):
    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)  # a long status must not widen the window
        self._before_problem: str | None = None

    def show_problem(self, problem: str | None, then: str) -> None:
        """Show `problem` followed by `then` (what to do); None restores the status."""
        if problem:
            if self._before_problem is None:
                self._before_problem = self.text()
            said = problem if problem.endswith(".") else f"{problem}."
            self.setText(f"{said} {then}")
        elif self._before_problem is not None:
            self.setText(self._before_problem)
            self._before_problem = None
