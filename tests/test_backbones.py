"""Every backbone: layer groups cover the network exactly, the head is replaced, Grad-CAM runs."""

import pytest
from PIL import Image

from transfer_gui.core.analysis.predict import Predictor
from transfer_gui.core.data.datasets import Preprocess
from transfer_gui.core.models.backbones import list_specs
from transfer_gui.core.models.freezing import describe_model
from transfer_gui.core.models.layers import group_of, layer_groups, preset, set_trainable
from transfer_gui.core.models.weights import build_model, weights_source

REQUIRED = {"efficientnet_lite0", "resnet18", "resnet34", "resnet50", "mobilenet_v3_small",
            "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny", "vit_b_16"}


def test_required_backbones_are_listed():
    names = {s.name for s in list_specs()}
    assert names >= REQUIRED
    assert weights_source(next(s for s in list_specs() if s.name == "efficientnet_lite0")) \
        == "bundled"


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_groups_tree_and_head(name):
    spec = next(s for s in list_specs() if s.name == name)
    model = build_model(spec, 4, pretrained=False)
    groups = layer_groups(spec)
    params = dict(model.named_parameters())
    # every parameter belongs to exactly one group
    for pname in params:
        owners = [g.name for g in groups if any(
            pname == p or pname.startswith(p + ".") for p in g.paths)]
        assert len(owners) == 1, (pname, owners)
    assert group_of("head.weight", groups) == "head"
    assert model.head.out_features == 4
    # the full model has the advertised parameter count with its ImageNet head
    imagenet = build_model(spec, None, pretrained=False)
    assert sum(p.numel() for p in imagenet.parameters()) == spec.params
    tree = describe_model(model, groups).layers
    assert [n.name for n in tree] == [g.name for g in groups]
    assert sum(n.size for n in tree) == sum(p.numel() for p in params.values())
    set_trainable(model, groups, preset("fine-tune", groups, 1))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n in params if group_of(n, groups) in (groups[-2].name, "head")}


@pytest.mark.parametrize("name", ["efficientnet_lite0", "resnet18",
                                  pytest.param("vit_b_16", marks=pytest.mark.slow)])
def test_gradcam_shape(name):
    spec = next(s for s in list_specs() if s.name == name)
    model = build_model(spec, 3, pretrained=False)
    predictor = Predictor(model, ["a", "b", "c"], Preprocess.for_backbone(spec), spec, "cpu")
    cam = predictor.gradcam(Image.new("RGB", (320, 240), (10, 200, 30)))
    assert cam.shape == (224, 224)
    assert cam.min() >= 0.0 and cam.max() <= 1.0


def test_image_size_follows_backbone_ratio():
    spec = next(s for s in list_specs() if s.name == "resnet50")
    pre = Preprocess.for_backbone(spec, 160)
    assert (pre.image_size, pre.resize_size) == (160, round(160 * 232 / 224))
