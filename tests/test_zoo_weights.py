"""Weights of the zoo's models: Hugging Face's cache for timm, progress with size and speed,
cancelling, the hash check, the offline message, and files for another architecture."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from transfer_gui.core.events import Cancelled, CancelToken, Progress, Recorder, Work
from transfer_gui.core.models.backbones import BackboneSpec
from transfer_gui.core.models.weights import WeightsError, build_model
from transfer_gui.core.models.zoo import caches, fetch
from transfer_gui.core.models.zoo.catalog import load_catalog

timm = pytest.importorskip("timm")
NO_NETWORK = "no network: load a weights file or pick a model whose weights are on this computer"
REPO = "timm/test_resnet.r160_in1k"


@pytest.fixture()
def hf_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    cache = tmp_path / "hf"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return cache


def timm_spec(architecture: str) -> BackboneSpec:
    """A timm network as a backbone, written here so the test needs no group rules."""
    return BackboneSpec(name=f"timm-test-{architecture}", title=architecture,
                        builder=lambda: timm.create_model(architecture, pretrained=False),
                        groups=(("all", ("",)),), head_path="fc", cam_layer="")


def place_in_hf_cache(cache: Path, repo: str, payload: bytes, name: str = "model.safetensors",
                      blob: str | None = None) -> Path:
    """A download as `huggingface_hub` leaves it: a blob named by its hash, a snapshot link."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    blob_path = folder / "blobs" / (blob or hashlib.sha256(payload).hexdigest())
    blob_path.parent.mkdir(parents=True)
    blob_path.write_bytes(payload)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("abc123")
    snapshot = folder / "snapshots" / "abc123" / name
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(blob_path)
    return snapshot


def test_refused_connection_gives_the_offline_message(hf_cache, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(fetch.FetchError) as info:
        fetch.fetch_hf(REPO)
    assert str(info.value) == NO_NETWORK.replace("no network:",
                                                 f"no network to download the {REPO} weights:")
    assert caches.hf_weights_file(REPO) is None
    # past the quick check, the hub's own "not reachable" is the same sentence
    from huggingface_hub.errors import LocalEntryNotFoundError

    error = fetch._fetch_error(REPO, LocalEntryNotFoundError("cannot reach the Hub"))
    assert str(error) == str(info.value)


def test_weights_in_the_hf_cache_are_found_without_network(hf_cache, monkeypatch):
    entry = load_catalog().get(f"timm/{REPO.split('/')[1]}")
    assert entry is not None and entry.hf_hub_id == REPO
    assert caches.weights_here(entry) == "download"
    path = place_in_hf_cache(hf_cache, REPO, b"weights")
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("network used"))
    assert caches.weights_here(entry) == "cached"
    assert caches.weights_statuses([entry])[entry.id] == "cached"
    assert fetch.fetch_hf(REPO) == path  # found, not fetched again


def test_damaged_download_is_removed(hf_cache):
    path = place_in_hf_cache(hf_cache, REPO, b"weights", blob="0" * 64)
    with pytest.raises(fetch.FetchError, match="checksum"):
        fetch.check_blob(path)
    assert caches.hf_weights_file(REPO) is None  # the next try downloads it again


def fake_download(payload_size: int, cache: Path):
    """`hf_hub_download` that reports progress in ten steps through the given tqdm class."""
    def download(repo_id, filename, tqdm_class, **_kwargs):
        bar = tqdm_class(total=payload_size)
        for _ in range(10):
            bar.update(payload_size // 10)
        return str(place_in_hf_cache(cache, repo_id, b"x" * payload_size, filename))
    return download


def test_download_reports_size_and_speed(hf_cache, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(fetch, "is_online", lambda _url: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download(5_000_000, hf_cache))
    recorder = Recorder()
    path = fetch.fetch_hf(REPO, Work([recorder]))
    assert path.is_file()
    steps = recorder.of(Progress)
    assert [s.done for s in steps] == [500_000 * i for i in range(1, 11)]
    assert steps[-1].phase.startswith(f"download {REPO}: 5.0 of 5.0 MB")


def test_download_can_be_cancelled(hf_cache, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(fetch, "is_online", lambda _url: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download(1000, hf_cache))
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        fetch.fetch_hf(REPO, Work([], token))
    assert caches.hf_weights_file(REPO) is None


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_timm_weights_file_loads_into_its_architecture_only(tmp_path, suffix):
    torch.manual_seed(0)
    state = timm.create_model("test_resnet", pretrained=False).state_dict()
    path = tmp_path / f"test_resnet{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    model = build_model(timm_spec("test_resnet"), 3, weights_file=str(path))
    assert torch.equal(model.body.conv1[0].weight, state["conv1.0.weight"])
    with pytest.raises(WeightsError, match="made for another architecture than resnet10t"):
        build_model(timm_spec("resnet10t"), 3, weights_file=str(path))


def test_a_download_error_without_a_message_is_named_by_its_kind():
    class Odd(Exception):
        pass

    error = fetch._fetch_error(REPO, Odd())
    assert str(error) == f"Cannot download the {REPO} weights: Odd"
