"""The pages of the window's steps, stacked, each built on first need.

Only the Data page exists at start-up; the stack holds a placeholder for every other step
until its page is asked for (`page`): by the sidebar, a menu, a project opened, or the
start-up, which builds the rest one per turn of the event loop after the first paint.
"""

from __future__ import annotations

import importlib

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QStackedWidget, QWidget

from .state import AppState
from .steps import Step

# the pages after the Data page, built on first need: (module in .pages, class)
LATER_PAGES = {Step.MODEL: ("model_page", "ModelPage"), Step.TRAIN: ("train_page", "TrainPage"),
               Step.EVALUATE: ("evaluate_page", "EvaluatePage"),
               Step.PREDICT: ("predict_page", "PredictPage"),
               Step.COMPARE: ("compare_page", "ComparePage"),
               Step.LABEL: ("label_page", "LabelPage")}


class PageStack(QStackedWidget):
    """One page per `Step`, in order; `first` is the Data page, built by the window."""

    page_built = Signal(object, object)  # (Step, page): a page just built

    def __init__(self, state: AppState, first: QWidget) -> None:
        super().__init__()
        self.state = state
        self._pages: dict[Step, QWidget | None] = {step: None for step in Step}
        self._pages[Step.DATA] = first
        for step in Step:
            self.addWidget(self._pages[step] or QWidget())

    def built(self, step: Step) -> QWidget | None:
        """The page of `step` if it was built, else None (nothing is built here)."""
        return self._pages[step]

    def missing(self) -> list[Step]:
        """The steps whose page is not built yet."""
        return [step for step, page in self._pages.items() if page is None]

    def page(self, step: Step) -> QWidget:
        """The page of `step`, built now if it was not yet."""
        built = self._pages[step]
        if built is not None:
            return built
        module, name = LATER_PAGES[step]
        kind = getattr(importlib.import_module(f".pages.{module}", __package__), name)
        hook, self.state.before_change = self.state.before_change, None  # no recursion
        try:
            built = self._pages[step] = kind(self.state)
        finally:
            self.state.before_change = hook
        built.setObjectName("page")
        current = self.currentIndex()
        placeholder = self.widget(step)
        self.insertWidget(step, built)
        if placeholder is not None:
            self.removeWidget(placeholder)
            placeholder.deleteLater()
        self.setCurrentIndex(current)
        self.page_built.emit(step, built)
        return built
