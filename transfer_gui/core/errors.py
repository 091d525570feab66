"""The exceptions that mean "the user's input is wrong", shown as one clear line (CLI) or a
dialog (GUI) rather than a traceback."""

from __future__ import annotations

from .autobatch import OutOfMemory
from .bundle import RunError
from .config import ConfigError
from .data import DataError
from .export import ExportError
from .images import ImageError
from .project import ProjectError
from .runrecord import SaveFailed, TrainingFailed
from .weights import WeightsError

USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError, DataError, ImageError, WeightsError, RunError, ExportError, ProjectError,
    TrainingFailed, SaveFailed, OutOfMemory, OSError,
)
