"""Adaptation without training (feature alignment, AdaBN), adaptation from a probe, "auto",
and the account of what adaptation bought (target accuracy before and after)."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch

from imagegen import make_dataset
from transfer_gui.core.config import (
    AUTO_ADAPT,
    ConfigError,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    TransferConfig,
)
from transfer_gui.core.io import bundle
from transfer_gui.core.models.backbones import TransferNet
from transfer_gui.core.train.loop import Trainer
from transfer_gui.core.train.transfer.statistics import (
    ALIGNMENT,
    Alignment,
    adabn,
    fold_alignment,
)


@pytest.fixture(scope="module")
def shift(tmp_path_factory) -> tuple[Path, Path]:
    """A labelled source (plain shapes) and a target of inverted shapes whose class
    sub-folders give a target accuracy."""
    root = tmp_path_factory.mktemp("shift")
    source = make_dataset(root / "source", per_class=8, size=40)
    target = make_dataset(root / "target", per_class=8, size=40, seed=1, invert=True)
    return source, target


def config(source: Path, target: Path | None, mode: str = "align",
           strategy: str = "linear-probe", epochs: int = 2) -> RunConfig:
    transfer = TransferConfig(mode, target_dir=str(target)) if target else TransferConfig()
    return RunConfig(DataConfig(root=str(source), val_split=0.25, seed=3),
                     ModelConfig(backbone="tiny_cnn", strategy=strategy),
                     TrainConfig(epochs=epochs, batch_size=8, augment="none", seed=3,
                                 num_workers=0),
                     transfer)


def weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / bundle.WEIGHTS))


class CountingBody:
    """Counts the images that go through every `TransferNet.body` forward pass."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.images = 0
        original = TransferNet.__init__

        def init(net: TransferNet, body: torch.nn.Module, head: torch.nn.Module) -> None:
            original(net, body, head)
            body.register_forward_pre_hook(self._count)

        monkeypatch.setattr(TransferNet, "__init__", init)

    def _count(self, _module: torch.nn.Module, args: tuple) -> None:
        self.images += len(args[0])


# --- the statistics, alone ------------------------------------------------------------------


def test_folded_alignment_equals_the_head_on_aligned_features():
    torch.manual_seed(0)
    head = torch.nn.Linear(6, 3)
    source, target = torch.randn(40, 6) * 2 + 1, torch.randn(30, 6) * 0.5 - 3
    alignment = Alignment.between(source, target)
    expected = head(alignment.apply(target))
    fold_alignment(head, alignment)
    assert torch.allclose(head(target), expected, atol=1e-5)
    mapped = alignment.apply(target)  # the target now has the source's mean and spread
    assert torch.allclose(mapped.mean(0), source.mean(0), atol=1e-4)
    assert torch.allclose(mapped.std(0), source.std(0), atol=1e-4)


def test_adabn_changes_only_batchnorm_running_statistics():
    from tinynet import TinyNet

    torch.manual_seed(0)
    net = TinyNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    batches = [torch.rand(8, 3, 32, 32) * 3 + 2 for _ in range(3)]
    assert adabn(net, batches) == 3
    after = net.state_dict()
    stats = {k for k in after if k.endswith(("running_mean", "running_var",
                                             "num_batches_tracked"))}
    for name, value in after.items():
        if name in stats:
            continue
        assert torch.equal(value, before[name]), f"{name} changed"  # bit-identical
    moved = [k for k in stats if k.endswith("running_mean")
             and not torch.equal(after[k], before[k])]
    assert len(moved) == 3
    # the first layer's statistics are exactly those of the target's first-layer outputs
    with torch.no_grad():
        conv = torch.cat([net.stem[0](x) for x in batches])
    assert torch.allclose(after["stem.1.running_mean"], conv.mean((0, 2, 3)), atol=1e-4)
    assert not net.training


# --- in a run ---------------------------------------------------------------------------------


def test_alignment_of_a_probe_needs_no_forward_pass_beyond_the_cached_features(
        shift, tmp_path, monkeypatch):
    source, target = shift
    # a feature cache of its own: other tests' runs on the same generated images would fill it
    monkeypatch.setenv("TRANSFER_GUI_CACHE_DIR", str(tmp_path / "cache"))
    counting = CountingBody(monkeypatch)
    result = Trainer().fit(config(source, target, "align"), tmp_path / "run")
    assert result.status == "completed"
    images = sum(1 for _ in source.rglob("*.png")) + sum(1 for _ in target.rglob("*.png"))
    assert counting.images == images  # every source and target image through the body once
    meta = bundle.read_meta(tmp_path / "run")
    note = meta["adaptation"]
    assert note["method"] == "align" and (tmp_path / "run" / ALIGNMENT).is_file()
    assert note["target_acc_before"] is not None and note["target_acc_after"] is not None
    # a second run on the same folders: everything from the feature cache
    counting.images = 0
    Trainer().fit(config(source, target, "align"), tmp_path / "again")
    assert counting.images == 0


def test_alignment_uses_no_target_labels(shift, tmp_path):
    """The target's class sub-folders shuffled: the same model (only the reported target
    accuracy may differ)."""
    source, target = shift
    shuffled = tmp_path / "shuffled"
    files = sorted(target.rglob("*.png"))
    classes = sorted({f.parent.name for f in files})
    rng = random.Random(0)
    for i, path in enumerate(files):
        folder = shuffled / rng.choice(classes)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / f"{i}.png")
    for name, folder in (("labels", target), ("shuffled", shuffled)):
        assert Trainer().fit(config(source, folder, "align"), tmp_path / name).status == \
            "completed"
    a, b = weights(tmp_path / "labels"), weights(tmp_path / "shuffled")
    assert a.keys() == b.keys()
    for key in a:  # the images come in another order: sums may differ in the last bit
        assert torch.allclose(a[key], b[key], rtol=1e-6, atol=1e-7), key


def test_adabn_run_changes_only_batchnorm_statistics_of_the_trained_model(shift, tmp_path):
    source, target = shift
    plain = Trainer().fit(config(source, None), tmp_path / "plain")
    adapted = Trainer().fit(config(source, target, "adabn"), tmp_path / "adabn")
    assert plain.status == adapted.status == "completed"
    a, b = weights(tmp_path / "plain"), weights(tmp_path / "adabn")
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert changed and all(k.endswith(("running_mean", "running_var", "num_batches_tracked"))
                           for k in changed), changed


def test_auto_resolves_to_the_benchmarks_choice_and_run_json_says_so(shift, tmp_path):
    source, target = shift
    result = Trainer().fit(config(source, target, "auto"), tmp_path / "run")
    assert result.status == "completed"
    meta = bundle.read_meta(tmp_path / "run")
    assert meta["config"]["transfer"]["mode"] == AUTO_ADAPT["frozen"]
    assert meta["config"]["transfer"]["auto"] is True
    assert meta["adaptation"]["method"] == AUTO_ADAPT["frozen"] and meta["adaptation"]["auto"]
    trained = config(source, target, "auto", strategy="fine-tune").resolved()
    assert trained.transfer.mode == AUTO_ADAPT["trained"]


def test_dann_starts_from_a_probe_and_reports_target_accuracy_before_and_after(
        shift, tmp_path, monkeypatch):
    """Also: the probe's feature pass, training and the alignment's passes read each image
    of either folder from one decoding."""
    source, target = shift
    decoded = count_decoding(monkeypatch)
    result = Trainer().fit(config(source, target, "dann+align", strategy="fine-tune",
                                  epochs=3), tmp_path / "run")
    assert result.status == "completed"
    history = result.history
    assert history[0]["stage"] == "probe" and history[0]["target_acc"] is not None
    assert len(history) == 3  # a probe perfect on the source does not end an adaptation
    meta = json.loads((tmp_path / "run" / bundle.META).read_text())
    note = meta["adaptation"]
    assert note["target_acc_before"] == history[0]["target_acc"]
    assert note["kept"] == "last epoch" and note["epoch"] == 3
    assert meta["best"]["epoch"] == 3
    images = {str(p) for p in (*source.rglob("*.png"), *target.rglob("*.png"))}
    assert set(decoded) == images and max(decoded.values()) == 1, decoded.most_common(3)


def test_plain_adabn_refused_without_batchnorm(shift, tmp_path, monkeypatch):
    import transfer_gui.core.train.transfer.secondfolder as second

    source, target = shift
    monkeypatch.setattr(second, "batchnorms", lambda body: [])
    with pytest.raises(ConfigError, match="no BatchNorm"):
        Trainer().fit(config(source, target, "adabn"), tmp_path / "run")


def count_decoding(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each image file is decoded from now on."""
    from transfer_gui.core.data import datasets

    decoded: Counter[str] = Counter()
    original = datasets.load_base

    def counting(path: str, size: int) -> torch.Tensor:
        decoded[path] += 1
        return original(path, size)

    monkeypatch.setattr(datasets, "load_base", counting)
    return decoded


def test_adabn_and_alignment_decode_the_target_once(shift, tmp_path, monkeypatch):
    """The target's feature pass (filling the feature cache), AdaBN's pass and the adapted
    features' pass read one decoding of each target image."""
    source, target = shift
    decoded = count_decoding(monkeypatch)
    result = Trainer().fit(config(source, target, "adabn+align"), tmp_path / "run")
    assert result.status == "completed"
    # the source's features may all come from the feature cache (earlier runs on these images)
    assert {str(p) for p in target.rglob("*.png")} <= set(decoded)
    assert max(decoded.values()) == 1, decoded.most_common(3)


def test_alignment_adapts_a_classic_head(shift, tmp_path):
    """A k-NN head's bank is moved onto the target's statistics (a logistic head is a linear
    layer, aligned like a probe's): the saved model, evaluated on the target folder, scores
    what the run reported."""
    strategy = "knn"
    from transfer_gui.core.analysis.evaluation import evaluate_run

    source, target = shift
    result = Trainer().fit(config(source, target, "align", strategy=strategy), tmp_path / "run")
    assert result.status == "completed"
    note = bundle.read_meta(tmp_path / "run")["adaptation"]
    scored = evaluate_run(tmp_path / "run", str(target), device="cpu").result.accuracy
    assert note["target_acc_after"] == pytest.approx(scored, abs=1e-6)
