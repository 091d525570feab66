"""Weights: the real download path (from a local URL), weight files, and refusing code."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle

import pytest
import torch

from transfer_gui.core.events import Progress, Recorder
from transfer_gui.core.models import weights
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.models.weights import (
    WeightsError,
    build_model,
    read_state_dict,
    weights_source,
)


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(old)


def fake_release(tmp_path, spec_name: str = "resnet18"):
    """A torchvision-style weights file served from a file:// URL, named with its hash."""
    state = get_spec(spec_name).builder().state_dict()
    raw = tmp_path / "raw.pth"
    torch.save(state, raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()[:8]
    served = tmp_path / f"{spec_name}-{digest}.pth"
    raw.rename(served)
    spec = dataclasses.replace(get_spec(spec_name), weights_url=served.as_uri())
    return spec, state


def test_download_goes_through_cache(tmp_path, hub):
    spec, state = fake_release(tmp_path)
    assert weights_source(spec) == "download"
    rec = Recorder()
    model = build_model(spec, 3, pretrained=True, callbacks=[rec])
    assert weights_source(spec) == "cached"
    progress = rec.of(Progress)
    assert progress and progress[-1].done == progress[-1].total > 0
    assert torch.equal(model.body.conv1.weight, state["conv1.weight"])
    assert model.head.out_features == 3
    assert not list(hub.glob("checkpoints/.*tmp"))  # no temporary file left behind


def test_damaged_download_is_refused(tmp_path, hub):
    spec, _ = fake_release(tmp_path)
    served = tmp_path / spec.weights_url.rsplit("/", 1)[-1]
    bad = tmp_path / "resnet18-00000000.pth"  # the name promises another hash
    served.rename(bad)
    spec = dataclasses.replace(spec, weights_url=bad.as_uri())
    with pytest.raises(WeightsError, match="checksum"):
        weights.download(spec)
    assert weights_source(spec) == "download"  # nothing half-written in the cache


def test_unreachable_download_says_what_to_do(tmp_path, hub):
    spec = dataclasses.replace(get_spec("resnet18"),
                               weights_url=(tmp_path / "missing-12345678.pth").as_uri())
    with pytest.raises(WeightsError, match="bundled backbone or a weights file"):
        build_model(spec, 2, pretrained=True)


def test_weights_file_for_a_torchvision_backbone(tmp_path):
    net = get_spec("resnet18").builder()
    torch.save(net.state_dict(), tmp_path / "mine.pth")
    model = build_model(get_spec("resnet18"), 5, weights_file=str(tmp_path / "mine.pth"))
    assert torch.equal(model.body.layer4[1].conv2.weight, net.layer4[1].conv2.weight)
    assert model.head.out_features == 5


def test_wrong_architecture_names_the_mismatch(tmp_path):
    torch.save(get_spec("resnet18").builder().state_dict(), tmp_path / "r18.pth")
    with pytest.raises(WeightsError, match="does not match") as info:
        build_model(get_spec("resnet34"), 5, weights_file=str(tmp_path / "r18.pth"))
    assert "missing" in str(info.value)


class Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as handle:
        pickle.dump({"conv1.weight": Exploit(str(marker))}, handle)
    torch.save({"x": Exploit(str(marker))}, tmp_path / "evil2.pth")
    for path in (evil, tmp_path / "evil2.pth"):
        with pytest.raises(WeightsError, match="refused"):
            read_state_dict(path)
    assert not marker.exists()


def test_offline_download_says_so_in_one_sentence(tmp_path, hub, monkeypatch):
    import socket
    import urllib.error
    import urllib.request

    def offline(*_a, **_k):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(WeightsError) as info:
        weights.download(get_spec("resnet18"))
    message = str(info.value)
    assert message == ("no network to download the resnet18 weights: load a weights file or "
                       "pick a model whose weights are on this computer"), message
    assert "urlopen" not in message and "Errno" not in message


def test_online_check_needs_a_reachable_server():
    assert weights.is_online("file:///anything")
    assert not weights.is_online("https://127.0.0.1:9/weights.pth", timeout=1)
