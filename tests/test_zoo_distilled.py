"""Distilled timm networks (DeiT, LeViT, PiT, RepViT, SwiftFormer: a second, distillation
classifier; VOLO: an auxiliary one) have layer groups and take a new head: every classifier is
cut out, the network gives the features they read. Random weights, nothing downloaded."""

from __future__ import annotations

import pytest
import torch

from transfer_gui.core.models.freezing import layer_groups
from transfer_gui.core.models.grouping import timm_classifiers
from transfer_gui.core.models.layers import set_trainable
from transfer_gui.core.models.weights import build_model
from transfer_gui.core.models.zoo_specs import zoo_spec

# one id of each family whose `get_classifier()` is a tuple (the zoo lists 79 such ids)
# (DeiT and LeViT below); PiT has no `group_matcher` either: grouped by its modules
FAMILIES = ("timm/levit_conv_128s.fb_dist_in1k", "timm/pit_ti_distilled_224.in1k",
            "timm/repvit_m1_0.dist_300e_in1k", "timm/swiftformer_xs.dist_in1k",
            "timm/volo_d1_224.sail_in1k")


@pytest.mark.parametrize("model_id", FAMILIES)
def test_a_network_with_two_classifiers_has_groups(model_id):
    spec = zoo_spec(model_id)
    assert spec.other_heads and spec.head_path not in spec.other_heads
    assert len(spec.groups) >= 3
    grouped = [p for _, paths in spec.groups for p in paths]
    assert not any(p.startswith((spec.head_path, *spec.other_heads)) for p in grouped)


@pytest.mark.parametrize("model_id", ["timm/deit_tiny_distilled_patch16_224.fb_in1k",
                                      "timm/levit_128s.fb_dist_in1k"])
def test_a_distilled_network_trains_a_new_head(model_id, monkeypatch):
    import timm

    from transfer_gui.core.models import zoo_specs

    def small(model: str):  # the same network with fewer blocks: a quicker test
        depth = {"depth": 2} if "deit" in model else {"depth": (1, 1, 1)}
        return lambda: timm.create_model(model, pretrained=False, **depth)

    monkeypatch.setattr(zoo_specs, "_timm_builder", small)
    zoo_spec.cache_clear()
    net = small(model_id[5:])()
    assert isinstance(net.get_classifier(), tuple)  # what used to end in a bare StopIteration
    assert len(timm_classifiers(net)) == 2
    spec = zoo_spec(model_id)
    zoo_spec.cache_clear()  # the small network's spec is no one else's
    model = build_model(spec, 3, pretrained=False)
    groups = layer_groups(spec, [n for n, _ in model.named_parameters()])
    trainable = set_trainable(model, groups, ["head", groups[-2].name])
    assert 0 < trainable < sum(p.numel() for p in model.parameters())
    model.eval()
    with torch.no_grad():  # the body gives the features both classifiers read, averaged
        features = model.body(torch.rand(1, 3, spec.image_size, spec.image_size))
    assert features.shape == (1, model.feature_dim)
    assert model.head(features).shape == (1, 3)


def test_classifiers_of_different_widths_are_refused_in_words():
    from transfer_gui.core.config import ConfigError

    with pytest.raises(ConfigError, match="features of different sizes"):
        zoo_spec("timm/crossvit_tiny_240.in1k")  # two branches, one classifier each
