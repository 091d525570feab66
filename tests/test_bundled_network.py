"""The bundled EfficientNet-Lite0 loads strictly and recognises real photographs."""

import numpy as np
import pytest
import torch
from PIL import Image

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


def square(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    short = min(width, height)
    left, top = (width - short) // 2, (height - short) // 2
    return image.crop((left, top, left + short, top + short)).resize((side, side))


@pytest.mark.parametrize("cat_left", [False, True])
def test_gradcam_points_at_the_cat(photo_dir, cat_left):
    """The cat and a cup of coffee side by side on grey: the heat for the top class (a cat) is
    on the cat's half, wherever the cat is."""
    predictor = Predictor.imagenet("efficientnet_lite0", device="cpu")
    cat = square(decode(photo_dir / "chelsea.jpg").convert("RGB"), 128)
    coffee = square(decode(photo_dir / "coffee.jpg").convert("RGB"), 128)
    canvas = Image.new("RGB", (256, 256), (128, 128, 128))
    canvas.paste(cat, (0 if cat_left else 128, 64))
    canvas.paste(coffee, (128 if cat_left else 0, 64))
    top = predictor.predict_images([canvas], top_k=1)[0][0][0]
    assert top in CATS
    cam = predictor.gradcam(canvas)
    assert cam.shape == (224, 224) and float(cam.max()) == 1.0
    # resized to 256 and centre-cropped to 224: the cat is at x 0..112 or 112..224, y 48..176
    box = np.zeros(cam.shape, dtype=bool)
    left = 0 if cat_left else 112
    box[48:176, left:left + 112] = True
    peak_y, peak_x = np.unravel_index(int(cam.argmax()), cam.shape)
    assert box[peak_y, peak_x], (peak_x, peak_y)
    inside, outside = float(cam[box].mean()), float(cam[~box].mean())
    assert inside > 3 * outside, (inside, outside)


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
