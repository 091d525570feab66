"""The run folder's events.jsonl: every event of a run, one JSON line each, read back as it
grows (a torn last line waits for its end), trimmed when a run resumes."""

from __future__ import annotations

import json

from runhelpers import tiny_config
from transfer_gui.core.events import (
    BatchEnded,
    Callback,
    CancelToken,
    EpochEnded,
    FitEnded,
    FitStarted,
    Message,
    to_dict,
)
from transfer_gui.core.io.eventlog import EVENTS, EventLog, EventReader, read_events
from transfer_gui.core.train.loop import Trainer


def _dicts(events: list) -> list[dict]:
    return [to_dict(e) for e in events]


def _events(n: int) -> list:
    return [BatchEnded(1, b, n, b, 1.0 / b, 1e-3, 100.0) for b in range(1, n + 1)]


def test_a_torn_last_line_is_skipped_until_it_is_complete(tmp_path):
    log = EventLog(tmp_path)
    log.begin()
    for event in _events(3):
        log.on_batch_end(event)
    reader = EventReader(tmp_path)
    assert _dicts(reader.read()[1]) == _dicts(_events(3))
    line = json.dumps(to_dict(Message("info", "half a line then the rest"))) + "\n"
    with open(tmp_path / EVENTS, "a", encoding="utf-8") as f:  # a writer caught mid-line
        f.write(line[:17])
    assert reader.read() == (False, [])
    with open(tmp_path / EVENTS, "a", encoding="utf-8") as f:
        f.write(line[17:])
    assert reader.read() == (False, [Message("info", "half a line then the rest")])
    assert reader.read() == (False, [])


def test_small_reads_give_the_same_events(tmp_path):
    log = EventLog(tmp_path)
    log.begin()
    for event in _events(20):
        log.on_batch_end(event)
    reader, got = EventReader(tmp_path, chunk=37), []  # lines split across every read
    while True:
        got += reader.read()[1]
        if not reader.behind:
            break
    assert _dicts(got) == _dicts(_events(20))


def test_events_wait_in_memory_until_the_run_folder_is_started(tmp_path):
    log = EventLog(tmp_path)
    log.on_message(Message("info", "checking images"))
    assert not (tmp_path / EVENTS).exists()
    log.begin()
    assert read_events(tmp_path) == [Message("info", "checking images")]


def test_a_log_that_is_not_the_writer_writes_nothing(tmp_path):
    log = EventLog(tmp_path, enabled=False)
    log.begin()
    log.on_message(Message("info", "rank 1"))
    log.trim(0)
    assert not (tmp_path / EVENTS).exists()


def test_a_writer_killed_mid_line_leaves_a_tail_the_next_writer_cuts(tmp_path):
    (tmp_path / EVENTS).write_text(json.dumps(to_dict(Message("info", "a"))) + "\n{\"event\": ")
    log = EventLog(tmp_path)
    log.begin()
    log.on_message(Message("info", "b"))
    assert read_events(tmp_path) == [Message("info", "a"), Message("info", "b")]


class _StopMidEpoch(Callback):
    def __init__(self, token: CancelToken) -> None:
        self.token = token

    def on_batch_end(self, event: BatchEnded) -> None:
        if event.epoch == 2 and event.batch == 1:
            self.token.cancel()


def test_a_resumed_run_trims_the_log_and_a_reader_notices(shapes_dir, tmp_path):
    run, token = tmp_path / "run", CancelToken()
    config = tiny_config(shapes_dir, epochs=2)
    Trainer().fit(config, run, [_StopMidEpoch(token)], token)
    reader = EventReader(run)
    before = reader.read()[1]
    assert [(e.epoch, e.batch) for e in before if isinstance(e, BatchEnded)][-1] == (2, 1)
    Trainer().fit(None, run, resume=True)
    restarted, events = reader.read()
    assert restarted  # the file was replaced: read from its start again
    steps = [(e.epoch, e.batch) for e in events if isinstance(e, BatchEnded)]
    assert len(steps) == len(set(steps))  # the repeated epoch's steps once each
    starts = [e for e in events if isinstance(e, FitStarted)]
    assert [s.start_epoch for s in starts] == [0, 1]
    ends = [e.status for e in events if isinstance(e, FitEnded)]
    assert ends == ["cancelled", "completed"]
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == [1, 2]
