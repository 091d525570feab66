"""The bundled EfficientNet-Lite0 loads strictly and recognises real photographs."""

import torch

from transfer_gui.core.analysis.predict import Predictor
from transfer_gui.core.data.images import decode
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.models.nets.efficientnet_lite import EfficientNetLite
from transfer_gui.core.models.weights import read_state_dict

CATS = {"Egyptian cat", "tabby", "tiger cat", "Persian cat", "Siamese cat", "lynx"}


def test_checkpoint_loads_strictly():
    spec = get_spec("efficientnet_lite0")
    state = read_state_dict(spec.bundled())
    net = EfficientNetLite()
    result = net.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert sum(p.numel() for p in net.parameters()) == spec.params


def test_imagenet_head_recognises_photos(photo_dir):
    predictor = Predictor.imagenet("efficientnet_lite0", device="cpu")
    cat, coffee = predictor.predict_paths(
        [str(photo_dir / "chelsea.jpg"), str(photo_dir / "coffee.jpg")], top_k=3)
    assert {label for label, _ in cat.top_k} & CATS, cat.top_k
    assert cat.top_k[0][0] in CATS
    assert coffee.top_k[0][0] == "espresso", coffee.top_k
    assert coffee.top_k[0][1] > 0.5


def test_gradcam_points_at_the_cat(photo_dir):
    predictor = Predictor.imagenet("efficientnet_lite0", device="cpu")
    image = decode(photo_dir / "chelsea.jpg")
    cam = predictor.gradcam(image)
    assert cam.shape == (224, 224) and float(cam.max()) == 1.0
    # the cat fills most of the frame: the heat is not concentrated in a corner
    assert float(torch.from_numpy(cam)[56:168, 56:168].mean()) > float(cam.mean()) * 0.8


def test_from_scratch_batchnorm_statistics_catch_up_on_a_short_run():
    """A random-weight Lite0 (TF-style BatchNorm momentum 0.01) must tell images apart in
    evaluation mode after a few dozen training steps; with the original rate its running
    statistics stay near their start and every image gives the same output."""
    from transfer_gui.core.models.weights import build_model

    torch.manual_seed(0)
    model = build_model(get_spec("efficientnet_lite0"), 3, pretrained=False)
    images = torch.rand(8, 3, 64, 64) * torch.rand(8, 3, 1, 1) * 4 - 2
    model.train()
    with torch.no_grad():
        for _ in range(30):  # running statistics follow the training batches
            model(images)
    model.eval()
    with torch.no_grad():
        features = model.body(images)
    spread = float(features.std(0).mean() / features.abs().mean())
    assert spread > 0.05, spread
