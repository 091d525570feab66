"""Where the app keeps its own files on this computer (no torch, no Qt)."""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """Where unsaved projects keep their runs and the model list its cache
    (`TRANSFER_GUI_DATA_DIR` overrides it)."""
    override = os.environ.get("TRANSFER_GUI_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("transfer_gui", appauthor=False))
