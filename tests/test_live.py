"""The camera's frame path, fed by a generated source: bursts recorded into a class at the set
rate and labelled, and live prediction that drops frames instead of lagging."""

from __future__ import annotations

import threading
import time

from PIL import Image

from transfer_gui.core import LabelPool
from transfer_gui.core.analysis.live import (
    BurstRecorder,
    LatestFrame,
    LiveSession,
    PatternSource,
    pattern_predictor,
    predict_live,
)
from transfer_gui.core.events import CancelToken


def test_a_held_record_button_saves_frames_at_the_rate_into_the_class(tmp_path):
    pool = LabelPool.open(tmp_path)
    session = LiveSession(BurstRecorder(pool, rate=5.0))
    source = PatternSource()
    session.recorder.start("red")
    saved = [session.offer(source.read(), now=i * 0.04) for i in range(50)]  # 2 s at 25 fps
    burst = session.recorder.stop()
    assert 9 <= len(burst) <= 11 and burst == [s for s in saved if s]
    assert all((tmp_path / f).is_file() and f.startswith("red/") for f in burst)
    assert session.offer(source.read(), now=10.0) is None  # released: nothing saved
    again = LabelPool.open(tmp_path)
    assert again.labels == dict.fromkeys(burst, "red")
    pool.undo()  # one burst, one undo step
    assert LabelPool.open(tmp_path).labels == {}


def test_a_slow_model_gets_the_newest_frame_and_the_rest_are_dropped():
    session = LiveSession()
    session.playing = True
    source = PatternSource(colour=(230, 20, 20))
    results = []
    cancel = CancelToken()

    def slow(image):
        time.sleep(0.08)
        return pattern_predictor(image)

    worker = threading.Thread(target=predict_live,
                              args=(session.mailbox, slow, results.append, cancel))
    worker.start()
    offered = 0
    end = time.monotonic() + 0.8
    while time.monotonic() < end:  # a camera at about 200 frames a second
        session.offer(source.read())
        offered += 1
        time.sleep(0.005)
    cancel.cancel()
    worker.join(2)
    box = session.mailbox
    assert not worker.is_alive() and results
    assert box.dropped > box.taken  # most frames dropped (the model is 16x slower), none queued
    assert box.taken + box.dropped in (offered, offered - 1)  # the last may still wait
    assert results[-1].top_k[0][0] == "red"
    assert results[-1].dropped <= box.dropped and results[-1].predicted <= box.taken


def test_not_playing_predicts_nothing():
    box = LatestFrame()
    session = LiveSession()
    session.offer(PatternSource().read())
    assert session.mailbox.take(0.01) is None and box.take(0.01) is None


def test_frames_of_a_video_file_take_the_same_path(tmp_path):
    import numpy as np
    import pytest

    cv2 = pytest.importorskip("cv2")
    from transfer_gui.core import CameraError, CameraSource

    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120))
    source = PatternSource()
    for _ in range(20):
        writer.write(cv2.cvtColor(source.read(), cv2.COLOR_RGB2BGR))
    writer.release()
    video = CameraSource(path)
    (tmp_path / "pool").mkdir()
    pool = LabelPool.open(tmp_path / "pool")
    session = LiveSession(BurstRecorder(pool, rate=1000))
    session.recorder.start("red")
    frames, last = 0, None
    while (frame := video.read()) is not None:
        assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
        session.offer(frame, now=frames / 25)
        frames, last = frames + 1, frame
    video.close()
    assert frames == 20 and len(session.recorder.stop()) == 20
    assert pattern_predictor(Image.fromarray(last))[0][0] == "red"
    with pytest.raises(CameraError, match="cannot be opened"):
        CameraSource(str(tmp_path / "missing.avi"))
