"""Small pieces the engine tests share: a tiny-network run configuration and a callback that
stops a run after a given epoch."""

from __future__ import annotations

from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.events import Callback, CancelToken, EpochEnded


def tiny_config(root, strategy="linear-probe", **train) -> RunConfig:
    """`tiny_cnn` on the folder `root`: 3 epochs of batches of 8 unless told otherwise."""
    train.setdefault("epochs", 3)
    train.setdefault("batch_size", 8)
    return RunConfig(DataConfig(root=str(root)), ModelConfig(backbone="tiny_cnn",
                                                             strategy=strategy),
                     TrainConfig(**train))


class StopAfter(Callback):
    """Cancel `token` when epoch `epoch` ends (noticed at the next epoch's first batch)."""

    def __init__(self, token: CancelToken, epoch: int) -> None:
        self.token, self.epoch = token, epoch

    def on_epoch_end(self, event: EpochEnded) -> None:
        if event.epoch == self.epoch:
            self.token.cancel()
