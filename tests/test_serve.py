"""The prediction server: answers equal `predict`'s, options per request, every task of a run,
refusals as JSON 4xx that leave it serving, batching under concurrent clients, and the rules
that keep it local unless told otherwise."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import httpx
import pytest

from servehelpers import png_header, truncated_jpeg
from transfer_gui.cli import main
from transfer_gui.core import Predictor
from transfer_gui.serve.server import Server, check_host
from transfer_gui.serve.service import ServeError, Service


def start(run: Path, **options) -> Server:
    service = Service.from_run(run, "cpu", max_batch=options.pop("max_batch", 16),
                               wait_s=options.pop("wait_s", 0.005))
    server = Server(service, "127.0.0.1", 0, **options)
    server.start()
    return server


@pytest.fixture(scope="module")
def server(trained_run):
    running = start(trained_run)
    yield running
    running.stop()
    assert not running.running


@pytest.fixture(scope="module")
def images(shapes_dir) -> list[Path]:
    return sorted(shapes_dir.rglob("*.png"))[::7][:5]


def post_files(server: Server, paths: list[Path], **params) -> httpx.Response:
    files = [("image", (p.name, p.read_bytes(), "image/png")) for p in paths]
    return httpx.post(f"{server.url}/predict", files=files, params=params, timeout=30)


def assert_same(answer: dict, expected, top_k: int = 5) -> None:
    assert answer["label"] == expected.label
    assert [a["label"] for a in answer["top_k"]] == [c for c, _ in expected.top_k[:top_k]]
    for got, (_, p) in zip(answer["top_k"], expected.top_k, strict=False):
        assert got["probability"] == pytest.approx(p, abs=1e-5)


def test_answers_equal_predict_one_and_several(server, trained_run, images):
    expected = Predictor.from_run(trained_run, "cpu").predict_paths([str(p) for p in images])
    one = post_files(server, images[:1])
    assert one.status_code == 200, one.text
    assert_same(one.json(), expected[0])
    several = post_files(server, images)
    assert several.status_code == 200
    for answer, want in zip(several.json()["predictions"], expected, strict=True):
        assert_same(answer, want)


def test_json_base64_like_lobe_and_options_per_request(server, trained_run, images):
    expected = Predictor.from_run(trained_run, "cpu").predict_paths([str(images[1])])[0]
    text = base64.b64encode(images[1].read_bytes()).decode()
    answer = httpx.post(f"{server.url}/predict", json={"image": text, "top_k": 2,
                                                         "uncertain_below": 1.0}).json()
    assert_same(answer, expected, top_k=2)
    assert len(answer["top_k"]) == 2 and answer["uncertain"] is True
    url = httpx.post(f"{server.url}/predict?top_k=1&uncertain_below=0",
                     json={"images": [f"data:image/png;base64,{text}"]}).json()
    assert len(url["top_k"]) == 1 and url["uncertain"] is False


def test_model_and_health(server, trained_run):
    model = httpx.get(f"{server.url}/model").json()
    assert model["classes"] == ["circle", "square", "triangle"]
    assert model["input_size"] == 64 and model["tasks"] == []
    assert 0 <= model["accuracy"] <= 1
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
    assert httpx.get(f"{server.url}/docs").status_code == 200
    assert "/predict" in httpx.get(f"{server.url}/openapi.json").json()["paths"]


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"files": {"image": ("notes.png", b"just some words\n" * 20, "image/png")}}, 422,
     "notes.png: not an image: a text file"),
    ({"files": {"image": ("cut.jpg", truncated_jpeg(), "image/jpeg")}}, 422,
     "cut.jpg: truncated"),
    ({"files": {"image": ("bomb.png", png_header(10_000, 10_000), "image/png")}}, 422,
     "bomb.png: too many pixels (10000x10000"),
    ({"content": b""}, 400, "empty request body"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400,
     "not JSON"),
    ({"json": {"image": "***"}}, 400, "images[0]: not valid base64"),
    ({"files": {"image": ("a.png", b"x", "image/png")}, "params": {"top_k": 0}}, 400,
     "top_k must be at least 1"),
    ({"content": b"abc", "headers": {"content-type": "text/plain"}}, 415,
     "unsupported content type"),
])
def test_bad_requests_get_4xx_json_and_the_server_keeps_serving(server, images, body, status,
                                                                  words):
    before = server.stats()
    answer = httpx.post(f"{server.url}/predict", timeout=30, **body)
    assert answer.status_code == status
    assert words in answer.json()["error"]
    assert server.stats()["failed"] == before["failed"] + 1  # counted once
    assert post_files(server, images[:1]).status_code == 200
    assert server.stats()["served"] == before["served"] + 1


def test_upload_limit(trained_run, images):
    server = start(trained_run, max_body=2000)
    try:
        big = httpx.post(f"{server.url}/predict", content=b"0" * 5000,
                         headers={"content-type": "application/json"})
        assert big.status_code == 413 and "upload limit" in big.json()["error"]

        def chunks():
            yield b"{" + b" " * 3000

        streamed = httpx.post(f"{server.url}/predict", content=chunks(),
                              headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert post_files(server, images[:1]).status_code == 200
    finally:
        server.stop()


def test_concurrent_clients_share_forward_passes(trained_run, images):
    server = start(trained_run, wait_s=0.05)
    answers: list[int] = []
    try:
        def client() -> None:
            for _ in range(3):
                answers.append(post_files(server, images[:1]).status_code)

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == [200] * 24
        assert server.service.batcher.passes < 24  # some requests shared a pass
        assert server.stats()["served"] == 24
    finally:
        server.stop()


def test_beyond_loopback_needs_a_token_or_no_auth(trained_run, images, capsys):
    with pytest.raises(ServeError, match="--token"):
        check_host("0.0.0.0", None, False)
    check_host("0.0.0.0", "secret", False)
    check_host("0.0.0.0", None, True)
    check_host("::1", None, False)
    assert main(["serve", str(trained_run), "--host", "0.0.0.0", "--port", "0"]) == 1
    assert "--no-auth" in capsys.readouterr().err


def test_a_token_guards_predict_and_model(trained_run, images):
    server = start(trained_run, token="s3cret")
    try:
        refused = post_files(server, images[:1])
        assert refused.status_code == 401 and "Bearer" in refused.json()["error"]
        assert httpx.get(f"{server.url}/model").status_code == 401
        files = [("image", (images[0].name, images[0].read_bytes(), "image/png"))]
        ok = httpx.post(f"{server.url}/predict", files=files,
                        headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert "Bearer s3cret" in server.curl_example()
    finally:
        server.stop()


def test_every_task_answered_and_a_multi_label_threshold_per_request(tmp_path):
    from labelgen import tag_set, two_task_set
    from runhelpers import tiny_config
    from transfer_gui.core import fit
    from transfer_gui.serve.service import Ask

    for name, table in (("two", two_task_set(tmp_path / "two_data", per_pair=2)),
                        ("tags", tag_set(tmp_path / "tags_data", count=12))):
        fit(tiny_config(table, epochs=1), tmp_path / name)
    image = next((tmp_path / "two_data" / "images").glob("*.png"))
    service = Service.from_run(tmp_path / "two", "cpu")
    try:
        [answer] = service.predict([(image.name, image.read_bytes())], Ask(top_k=1))
        [want] = Predictor.from_run(tmp_path / "two", "cpu").predict_paths([str(image)], 1)
        assert set(answer["tasks"]) == {"ink", "backdrop"}
        for task, listed in want.tasks.items():
            assert [a["label"] for a in answer["tasks"][task]] == [a["label"] for a in listed]
            assert answer["tasks"][task][0]["probability"] == pytest.approx(
                listed[0]["probability"], abs=1e-5)
        assert service.model()["tasks"][0]["name"] == "ink"
    finally:
        service.close()
    tags = Service.from_run(tmp_path / "tags", "cpu")
    try:
        upload = [(image.name, image.read_bytes())]
        everything = tags.predict(upload, Ask(threshold=0.0))[0]["tasks"]["tags"]
        nothing = tags.predict(upload, Ask(threshold=1.0))[0]["tasks"]["tags"]
        assert {a["label"] for a in everything} == {"blue", "green", "red"} and nothing == []
        assert set(tags.model()["thresholds"]) == {"tags"}
    finally:
        tags.close()


def test_the_command_serves_until_interrupted(trained_run, images, tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys

    here = Path(__file__).resolve().parent
    code = ("import sys; from pathlib import Path; from tinynet import install; "
            f"install(Path({str(tmp_path)!r})); from transfer_gui.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    child = subprocess.Popen(
        [sys.executable, "-c", code, "serve", str(trained_run), "--port", "0",
         "--device", "cpu", "--json"], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(here.parent), str(here)])})
    try:
        url = json.loads(child.stdout.readline())["url"]
        files = {"image": (images[0].name, images[0].read_bytes())}
        assert httpx.post(f"{url}/predict", files=files, timeout=30).status_code == 200
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
