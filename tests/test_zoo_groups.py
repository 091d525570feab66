"""Layer groups for any backbone: every torchvision family and a sample of timm's build on the
meta device with at least two groups holding every parameter; "Fine-tune top" is the same
share of every backbone; layer decay counts depth; tokens get no weight decay; a timm model
trains end to end through the command line."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
import torch
from torch import nn

from transfer_gui.cli import main
from transfer_gui.core.models import grouping
from transfer_gui.core.models.backbones import get_spec, list_specs, split_network
from transfer_gui.core.models.freezing import (
    HEAD,
    Group,
    describe,
    fine_tune_words,
    preset,
    select,
    top_count,
)
from transfer_gui.core.models.layers import layer_groups, param_groups
from transfer_gui.core.models.weights import build_model

# one of each torchvision family (the smallest), and timm's tiny test models of six families
TORCHVISION = ("resnet18", "regnet_x_400mf", "efficientnet_b0",
               "mobilenet_v2", "mobilenet_v3_small", "mnasnet0_5", "convnext_tiny", "vit_b_32",
               "swin_t", "maxvit_t", "densenet121", "shufflenet_v2_x0_5", "squeezenet1_1",
               "googlenet", "inception_v3", "alexnet", "vgg11")
TIMM = ("test_resnet", "test_efficientnet", "test_convnext", "test_vit", "test_byobnet",
        "test_nfnet")


def _check_groups(name: str) -> None:
    spec = get_spec(name)
    net = grouping.build_on_meta(spec.builder)
    names = [n for n, _ in net.named_parameters()
             if not (n == spec.head_path or n.startswith(spec.head_path + "."))]
    groups = layer_groups(spec)[:-1]
    owners = {n: [g.name for g in groups
                  if any(n == p.removeprefix("body.") or n.startswith(p.removeprefix("body.")
                                                                       + ".") for p in g.paths)]
              for n in names}
    assert len(groups) >= 2, name
    assert all(len(found) == 1 for found in owners.values()), \
        [n for n, found in owners.items() if len(found) != 1][:3]
    assert isinstance(net.get_submodule(spec.head_path), nn.Linear | nn.Conv2d)
    net.get_submodule(spec.cam_layer)  # exists
    body = len(groups)
    trained = preset("fine-tune", layer_groups(spec))
    assert HEAD in trained and (len(trained) - 1 < body or body <= 3), (name, trained)


def test_every_torchvision_model_has_a_family_rule():
    import torchvision.models as tvm

    assert all(grouping.rule_for(name) for name in tvm.list_models(module=tvm))


@pytest.mark.parametrize("model", TORCHVISION)
def test_a_torchvision_family_groups_every_parameter(model):
    _check_groups(f"torchvision/{model}")


@pytest.mark.parametrize("model", TIMM)
def test_a_timm_family_groups_every_parameter(model):
    _check_groups(f"timm/{model}")


def test_the_generic_rule_groups_an_unknown_network():
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trunk = nn.Sequential(
                nn.Conv2d(3, 8, 3, 2, 1), nn.Conv2d(8, 8, 3, 1, 1), nn.Conv2d(8, 16, 3, 2, 1),
                nn.Conv2d(16, 32, 3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.extra = nn.Parameter(torch.zeros(1))  # in no container: joins the top
            self.fc = nn.Linear(32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.trunk(x)) + self.extra

    net = grouping.build_on_meta(Odd)
    found = grouping.torchvision_found("odd", net, 64)
    assert found.head_path == "fc" and found.cam_layer == "trunk.3"
    assert [g for g, _ in found.groups] == ["stem", "stage1", "stage2", "top"]
    assert found.groups[0][1] == ("trunk.0", "trunk.1") and found.groups[-1][1] == ("extra",)


def test_curated_backbones_have_every_parameter_in_a_group():
    for spec in list_specs(include_hidden=True):
        layout = describe(spec.name, 3)
        grouped = {p for g in layout.layers for p in g.params}
        assert grouped == set(layout.sizes), spec.name


def test_fine_tune_top_is_a_share_never_everything():
    for body in range(1, 40):
        n = top_count(body)
        assert 1 <= n <= body and n == min(math.ceil(body / 2), max(body - 1, 1))
        assert n < body or body <= 3
    assert top_count(9, 6) == 6 and top_count(5, 9) == 5  # a number asked for is kept
    lite, resnet = describe("efficientnet_lite0", 3), describe("resnet18", 3)
    assert select(lite, "fine-tune").selectors == ("stage4", "stage5", "stage6", "stage7",
                                                  "top", "head")
    assert select(resnet, "fine-tune").selectors == ("layer2", "layer3", "layer4", "head")
    words = fine_tune_words(resnet).replace("\u00a0", " ")
    assert words == ("Fine-tune top trains the top half of the network's 5 layer groups: "
                     "layers 2-4 (and the head)")


def _tiny_transfer() -> tuple[nn.Module, list[Group]]:
    spec = get_spec("tiny_cnn")
    model = split_network(spec, spec.builder(), 3)
    return model, layer_groups(spec, [n for n, _ in model.named_parameters()])


def test_layer_decay_counts_depth_in_the_whole_network(tiny_backbone):
    model, groups = _tiny_transfer()
    for name, param in model.named_parameters():  # only the stem and the head train
        param.requires_grad_(name.startswith(("body.stem", "head")))
    rates = {g["name"]: g["lr"] for g in param_groups(model, groups, 1.0, 0.0,
                                                      layer_decay=0.5)}
    assert rates == {"stem": 0.5 ** 3, "head": 1.0}  # 3 groups below the head, not 1


def test_a_parameter_outside_every_group_trains_with_its_neighbours(tiny_backbone):
    model, _ = _tiny_transfer()
    groups = [Group("stem", ("body.stem",)), Group("stage2", ("body.stage2",)),
              Group(HEAD, (HEAD,))]  # stage1 named by no group
    made = param_groups(model, groups, 1.0, 0.1, layer_decay=0.5)
    stage1 = {id(p) for n, p in model.named_parameters() if n.startswith("body.stage1")}
    owners = {g["name"] for g in made if stage1 & {id(p) for p in g["params"]}}
    assert owners == {"stem"}  # the group before it, never the head's rate
    assert all(g["lr"] == 0.25 for g in made if g["name"] == "stem")


def test_tokens_and_embeddings_get_no_weight_decay():
    spec = get_spec("timm/test_vit")
    model = build_model(spec, 3, pretrained=False)
    made = param_groups(model, layer_groups(spec), 1e-3, 0.05)
    plain = {id(p) for g in made if g["weight_decay"] == 0 for p in g["params"]}
    named = dict(model.named_parameters())
    for name in ("body.cls_token", "body.pos_embed", "body.blocks.0.norm1.weight",
                 "body.blocks.0.attn.qkv.bias"):
        assert id(named[name]) in plain, name
    assert id(named["body.blocks.0.attn.qkv.weight"]) not in plain


def test_a_timm_model_trains_end_to_end_from_the_command_line(shapes_dir, tmp_path):
    spec = get_spec("timm/test_resnet")
    weights = tmp_path / "test_resnet.pth"
    torch.manual_seed(0)
    torch.save(spec.builder().state_dict(), weights)  # random weights: nothing downloaded
    out = tmp_path / "run"
    assert main(["train", str(shapes_dir), "--out", str(out), "--backbone",
                 "timm/test_resnet", "--weights", str(weights), "--strategy", "fine-tune",
                 "--no-probe-first", "--epochs", "1", "--image-size", "64",
                 "--batch-size", "8", "--workers", "0", "--json"]) == 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["backbone"] == "timm/test_resnet"
    assert meta["trainable"] == ["stage2", "stage3", "stage4", "head"]
    assert (out / "model.safetensors").is_file() or any(out.glob("*.pt*"))


def test_an_unknown_zoo_model_is_a_clear_message():
    from transfer_gui.core.config import ConfigError

    with pytest.raises(ConfigError, match="timm has no model 'no_such_net'"):
        get_spec("timm/no_such_net")
    with pytest.raises(ConfigError, match=re.escape("torchvision has no classification")):
        get_spec("torchvision/no_such_net")
    assert dataclasses.is_dataclass(get_spec("timm/test_resnet"))


def test_grad_cam_reads_the_patch_grid_after_any_prefix_tokens():
    from transfer_gui.core.analysis.predict import _tokens_to_map

    patches = torch.arange(16.0).view(1, 16, 1)
    tokens = torch.cat([torch.full((1, 5, 1), -1.0), patches], dim=1)  # class + 4 registers
    grid = _tokens_to_map(tokens)
    assert grid.shape == (1, 1, 4, 4) and grid.min() == 0 and grid[0, 0, 3, 3] == 15


def test_pretrained_weights_leave_out_the_auxiliary_classifiers(monkeypatch):
    """GoogLeNet's checkpoint holds aux1/aux2 tensors its builder (without them) has not."""
    import torch

    from transfer_gui.core.events import Work
    from transfer_gui.core.models import weights
    from transfer_gui.core.models.backbones import get_spec

    spec = get_spec("torchvision/googlenet")
    assert spec.extra["ignore_keys"] == ("aux1.", "aux2.")
    state = {"conv1.conv.weight": torch.zeros(1), "aux1.fc1.weight": torch.zeros(1),
             "aux2.fc2.bias": torch.zeros(1), "fc.weight": torch.zeros(1)}
    monkeypatch.setattr(weights, "_pretrained_file_state", lambda s, t: dict(state))
    kept = weights.pretrained_state(spec, Work.of(()))
    assert kept is not None and sorted(kept) == ["conv1.conv.weight", "fc.weight"]
