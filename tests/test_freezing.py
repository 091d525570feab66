"""One truth for what trains: a preset and a tree selection come to the same explicit selection,
the window's description of a network holds no weights, and run.json keeps the selection."""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch

from transfer_gui.cli import main
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.io import bundle
from transfer_gui.core.models import backbones, freezing, weights
from transfer_gui.core.models.backbones import get_spec, list_specs
from transfer_gui.core.models.freezing import describe, describe_model, select
from transfer_gui.core.models.layers import count_params, layer_groups, preset, set_trainable
from transfer_gui.core.train.loop import Trainer
from transfer_gui.core.train.prepare import resume_config

STRATEGIES = [("linear-probe", 2), ("fine-tune", 1), ("fine-tune", 3), ("full", 2),
              ("scratch", 2), ("logistic", 2)]


def _plain(value: object) -> bool:
    """Only plain data: no tensors, modules or other torch objects anywhere."""
    if dataclasses.is_dataclass(value):
        return all(_plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, tuple | list | frozenset | set):
        return all(_plain(v) for v in value)
    return isinstance(value, str | int | float | bool | type(None))


def test_the_description_allocates_no_weights(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("describing a network must not load weights")

    for name in ("build_model", "pretrained_state", "read_state_dict", "download"):
        monkeypatch.setattr(weights, name, refuse)
    built = []
    split = backbones.split_network
    monkeypatch.setattr(backbones, "split_network", lambda *a: built.append(split(*a)) or built[-1])
    describe("resnet50", 5)  # imports settle
    start = time.perf_counter()
    layout = describe("resnet50", 5)
    assert time.perf_counter() - start < 2.0
    params = list(built[-1].parameters())
    assert params and all(p.is_meta for p in params)
    assert _plain(layout)
    assert layout.num_classes == 5 and layout.sizes["head.weight"] == 5 * 2048


@pytest.mark.parametrize("name", ["tiny_cnn", "resnet18", "vit_b_16"])
def test_the_description_is_the_real_network(name):
    spec = get_spec(name)
    real = weights.build_model(spec, 4, pretrained=False)
    assert describe(name, 4) == describe_model(real, layer_groups(spec), name)


@pytest.mark.parametrize("name", sorted(s.name for s in list_specs()))
def test_counts_are_those_of_the_frozen_model(name):
    """What the Model page shows (the engine's counts on the description) is what a built
    model frozen by the preset has."""
    spec = get_spec(name)
    layout = describe(name, 3)
    model = weights.build_model(spec, 3, pretrained=False)
    groups = layer_groups(spec)
    for strategy, unfreeze in STRATEGIES:
        set_trainable(model, groups, preset(strategy, groups, unfreeze))
        chosen = select(layout, strategy, unfreeze)
        assert (chosen.trainable, chosen.total) == count_params(model), (strategy, unfreeze)
        assert chosen.names == {n for n, p in model.named_parameters() if p.requires_grad}
        assert chosen.is_preset


def test_a_tree_selection_and_a_preset_are_one_selection():
    layout = describe("resnet18", 3)
    ticked = select(layout, "fine-tune", 1).names  # what the tree shows after the preset
    by_tree = select(layout, "fine-tune", 1, ticked)
    assert by_tree == select(layout, "fine-tune", 1) == select(layout, "fine-tune", 1,
                                                               ("layer4", "head"))
    assert by_tree.selectors == ("layer4", "head")
    custom = select(layout, "fine-tune", 1, ticked | {"body.layer3.1.bn2.weight"})
    assert not custom.is_preset
    assert custom.selectors == ("body.layer3.1.bn2.weight", "layer4", "head")
    assert select(layout, "fine-tune", 1, custom.selectors) == custom  # stable
    assert select(layout, "knn", 1, ticked).selectors == ()  # a classic head trains nothing
    with pytest.raises(ValueError):
        select(layout, "fine-tune", 1, ("body.nowhere",))
    assert freezing.compact(layout, set(layout.sizes)) == tuple(g.name for g in layout.groups)


def test_cli_preset_and_window_tree_store_the_same_selection(shapes_dir, tmp_path):
    cli_run, window_run = tmp_path / "cli", tmp_path / "window"
    assert main(["train", str(shapes_dir), "--out", str(cli_run), "--backbone", "tiny_cnn",
                 "--strategy", "fine-tune", "--unfreeze", "1", "--epochs", "1",
                 "--batch-size", "8", "--workers", "0", "--json"]) == 0
    # the window: the preset ticks the tree, the page writes what the ticks come to
    layout = describe("tiny_cnn", 3)
    ticked = select(layout, "fine-tune", 1).names
    chosen = select(layout, "fine-tune", 1, ticked)
    config = RunConfig(DataConfig(root=str(shapes_dir)),
                       ModelConfig("tiny_cnn", strategy="fine-tune", unfreeze=1,
                                   trainable=chosen.selectors),
                       TrainConfig(epochs=1, batch_size=8, num_workers=0))
    Trainer().fit(config, str(window_run))
    stored = [bundle.read_meta(run)["trainable"] for run in (cli_run, window_run)]
    assert stored[0] == stored[1] == ["stage2", "head"]
    params = [bundle.read_meta(run)["params"] for run in (cli_run, window_run)]
    assert params[0] == params[1] and params[0]["trainable"] == chosen.trainable


def test_a_resumed_run_trains_the_selection_it_stored(tmp_path):
    config = RunConfig(DataConfig(root=str(tmp_path)),
                       ModelConfig("tiny_cnn", strategy="fine-tune", unfreeze=2))
    meta = {"backbone": "tiny_cnn", "classes": ["a", "b"], "preprocess": {},
            "config": config.to_dict(), "trainable": ["stage2", "head"]}
    bundle.save_meta(tmp_path, meta)
    resumed = resume_config(tmp_path)
    assert resumed.model.trainable == ("stage2", "head")  # not the preset's stage1 too
    layout = describe("tiny_cnn", 2)
    m = resumed.model
    assert select(layout, m.strategy, m.unfreeze, m.trainable).selectors == ("stage2", "head")


def test_the_description_needs_no_torch_in_the_window_thread():
    """The selection works on the description alone: nothing in it is a tensor."""
    layout = describe("tiny_cnn", 3)
    chosen = select(layout, "full", 2)
    assert _plain(chosen) and not any(isinstance(v, torch.Tensor) for v in layout.sizes.values())
