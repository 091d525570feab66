"""Each setting is declared once (`option(...)` on the config dataclasses): the checks, the
command line's options and the window's form all come from that declaration, and none of them
can leave a setting out without saying so here."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

import transfer_gui.core
from transfer_gui.cli import build_parser, train_config
from transfer_gui.core import ConfigError, options_of
from transfer_gui.core.config import DataConfig, ModelConfig, TrainConfig, TransferConfig

CONFIGS = (DataConfig, ModelConfig, TrainConfig, TransferConfig)
# settings the command line sets otherwise or not at all, on purpose
NOT_ON_THE_COMMAND_LINE = {"DataConfig.root": "the DATA argument",
                           "DataConfig.folder_split": "a train/ + val/ folder decides",
                           "ModelConfig.trainable": "the window's layer tree",
                           "TransferConfig.auto": "--adapt auto records it",
                           "DataConfig.exclude": "train --review FILE",
                           "DataConfig.relabel": "train --review FILE",
                           "DataConfig.reviewed": "the DATA a review applies to"}
# every recipe flag the command line had before its options were generated
FLAGS = ("--backbone", "--strategy", "--unfreeze", "--head-epochs", "--no-probe-first",
         "--layer-decay", "--bn-stats", "--epochs", "--batch-size", "--lr", "--optimizer",
         "--schedule", "--weight-decay", "--label-smoothing", "--image-size", "--val-split",
         "--val", "--augment", "--early-stopping", "--seed", "--device", "--no-amp", "--workers",
         "--cache-memory", "--no-decode-cache", "--no-feature-cache", "--compile", "--weights")
TRANSFER_FLAGS = ("--joint-source", "--source-weight", "--target-weight", "--target-unlabeled",
                  "--adapt", "--adapt-weight")


def subparser(command: str) -> argparse.ArgumentParser:
    actions = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    return actions.choices[command]


def flags_of(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_every_field_is_declared_with_an_option():
    for cls in CONFIGS:
        for opt in options_of(cls):  # raises for a field declared without option()
            assert opt.name and opt.kind is not object, (cls.__name__, opt.name)


@pytest.mark.parametrize("command", ["train", "lr-find", "compare"])
def test_the_command_line_covers_every_setting(command):
    flags = flags_of(subparser(command))
    classes = CONFIGS if command == "train" else CONFIGS[:3]  # transfer: train only
    missing = []
    for cls in classes:
        for opt in options_of(cls):
            where = f"{cls.__name__}.{opt.name}"
            if opt.command_line is None:
                assert where in NOT_ON_THE_COMMAND_LINE, f"{where} has no command-line option"
            elif opt.command_line.flag not in flags:
                missing.append(where)
    assert not missing
    assert set(FLAGS) <= flags
    assert (set(TRANSFER_FLAGS) <= flags) == (command == "train")


def test_generated_options_mean_what_they_meant(tmp_path):
    parser = build_parser()
    default = train_config(parser.parse_args(["train", str(tmp_path), "--out", "o"]))
    assert default.train == TrainConfig() and default.model == ModelConfig()
    assert default.data == DataConfig(root=str(tmp_path.resolve()))
    config = train_config(parser.parse_args([
        "train", str(tmp_path), "--out", "o", "--batch-size", "auto", "--seed", "5", "--no-amp",
        "--bn-stats", "frozen", "--no-probe-first", "--cache-memory", "512", "--no-decode-cache",
        "--workers", "2", "--val", "v", "--weights", "w.pt", "--compile", "--strategy", "full",
        "--target-unlabeled", str(tmp_path), "--adapt", "coral", "--adapt-weight", "300"]))
    train = config.train
    assert (train.auto_batch_size, train.batch_size, train.mixed_precision) == (True, 32, False)
    assert (train.freeze_bn, train.probe_first, train.compile) == (True, False, True)
    assert (train.cache_memory_mb, train.cache_decoded, train.num_workers) == (512, False, 2)
    assert config.data.seed == train.seed == 5 and config.data.val_dir == "v"
    assert (config.model.strategy, config.model.weights_file) == ("full", "w.pt")
    assert (config.transfer.mode, config.transfer.adapt_weight) == ("coral", 300.0)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "d", "--batch-size", "many"])


@pytest.mark.parametrize(("cls", "changes", "field"), [
    (TrainConfig, {"lr": 0.0}, "lr"),
    (TrainConfig, {"layer_decay": 1.5}, "layer_decay"),
    (TrainConfig, {"optimizer": "adam"}, "optimizer"),
    (TrainConfig, {"epochs": 0}, "epochs"),
    (TrainConfig, {"batch_size": "32"}, "batch_size"),
    (DataConfig, {"val_split": 1.0}, "val_split"),
    (ModelConfig, {"strategy": "everything"}, "strategy"),
    (TransferConfig, {"adapt_weight": -1.0}, "adapt_weight"),
    (TransferConfig, {"mode": "joint"}, "source_dir"),
])
def test_a_refused_value_names_its_setting(cls, changes, field):
    with pytest.raises(ConfigError) as info:
        cls(**changes)
    assert info.value.field == field


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda cls: cls.__name__)
def test_no_dead_settings(cls):
    """Every declared setting is read by the engine somewhere outside its declaration (a
    setting nobody reads is a form field and an option that change nothing)."""
    core = Path(transfer_gui.core.__file__).parent
    sources = [p.read_text(encoding="utf-8") for p in core.rglob("*.py") if p.name != "config.py"]
    dead = [opt.name for opt in options_of(cls)
            if not any(re.search(rf"\.{opt.name}\b", text) for text in sources)]
    assert not dead, f"{cls.__name__}: settings the engine never reads: {dead}"


def test_a_removed_setting_stays_removed():
    assert "lr_ratio" not in {o.name for o in options_of(ModelConfig)}
    assert ModelConfig.from_dict({"lr_ratio": 0.5}) == ModelConfig()  # old files still load


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_the_run_commands_take_device_and_batch_size_from_the_recipe(command):
    """evaluate's and predict's --device and --batch-size are TrainConfig's, not copies."""
    actions = {a.dest: a for a in subparser(command)._actions}
    names = ("device", "batch_size") if command == "evaluate" else ("device",)
    assert "batch_size" in actions or command == "predict"
    for opt in (o for o in options_of(TrainConfig) if o.name in names):
        action = actions[opt.name]
        assert action.option_strings == [opt.command_line.flag], opt.name
        assert action.default == opt.default
        assert action.choices == (list(opt.choices) if opt.choices else None)
        assert action.type is (None if opt.choices else opt.kind)
    args = build_parser().parse_args(["evaluate", "run", "--batch-size", "8", "--device", "cpu"])
    assert (args.batch_size, args.device) == (8, "cpu")
    with pytest.raises(SystemExit):  # a number of images: "auto" is the training's word
        build_parser().parse_args(["evaluate", "run", "--batch-size", "auto"])
