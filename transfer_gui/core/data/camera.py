"""Cameras and video files through OpenCV (the optional `camera` extra).

OpenCV rather than Qt Multimedia: `opencv-python-headless` is a 64 MB wheel (180 MB
installed) against PySide6-Addons' 175 MB (439 MB installed, of which Qt Multimedia is a few
MB), and one API reads a camera and a video file alike, so the frame path is the same for
both. Frames come out as RGB arrays; the window and the tests take them through
`live.LiveSession` the same way.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

MISSING = ("the camera needs OpenCV, which is not installed: pip install "
           "'transfer-gui[camera]' (or opencv-python-headless)")
PROBED = 4  # camera indices tried when listing


class CameraError(Exception):
    """A camera that cannot be used, in words for the user."""


def _cv2() -> Any:
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # probing a missing index warns
    try:
        import cv2
    except ImportError:
        raise CameraError(MISSING) from None
    return cv2


def list_cameras(probe: int = PROBED) -> list[int]:
    """The indices of the cameras that open (none: an empty list)."""
    cv2 = _cv2()
    found = []
    for index in range(probe):
        capture = cv2.VideoCapture(index)
        if capture.isOpened():
            found.append(index)
        capture.release()
    return found


class CameraSource:
    """Frames of camera `index` (or of a video file when `index` is a path), as RGB arrays."""

    def __init__(self, index: int | str) -> None:
        cv2 = _cv2()
        self._cv2 = cv2
        self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            self.capture.release()
            raise CameraError(f"camera {index} cannot be opened: it is not connected, another "
                              "program uses it, or this application was refused access to it "
                              "(on macOS: System Settings > Privacy & Security > Camera)")

    def read(self) -> np.ndarray | None:
        """The next frame; None when the camera stopped or the file ended."""
        ok, frame = self.capture.read()
        return self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB) if ok else None

    def close(self) -> None:
        self.capture.release()
