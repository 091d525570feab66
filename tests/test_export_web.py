"""`export --format web`: a folder whose page classifies images in a real headless Chromium
with onnxruntime-web, opened from disk (file://), answering as `transfer-gui predict` does."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imagegen import shape_image
from transfer_gui.cli import main
from transfer_gui.core.data.datasets import load_base, unit_transform
from transfer_gui.core.errors import UserError
from transfer_gui.core.io import exportweb
from transfer_gui.core.io.bundle import load_run
from transfer_gui.core.io.export import default_export_path, export_format_for, export_run

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-quic", "--window-size=900,1000",
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")  # a camera


def browser_missing() -> str:
    """Why the browser test cannot run here ("" when it can)."""
    if not (CHROMIUM and DRIVER):
        return "chromium and chromium-driver are not installed (apt-get install chromium " \
               "chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the test extra)"
    if exportweb.find_ort_web() is None:
        return "onnxruntime-web is not installed (npm install --prefix .cache/ort-web " \
               f"onnxruntime-web@{exportweb.ORT_WEB_VERSION})"
    return ""


@pytest.fixture(scope="module")
def page(trained_run, tmp_path_factory):
    if browser_missing():
        pytest.skip(browser_missing())
    return export_run(trained_run, tmp_path_factory.mktemp("web") / "shapes-web", "web")


def sample_images(folder: Path) -> list[Path]:
    """Shapes at sizes that make the page resize both ways (down 2.7x, up, non-square) and
    noise, where any difference in resampling shows at once, also 6.7x smaller (where Pillow
    averages blocks first)."""
    rng = random.Random(3)
    images = [shape_image(s, 200, rng).resize(size, Image.Resampling.BICUBIC)
              for s, size in (("circle", (300, 200)), ("square", (97, 150)),
                              ("triangle", (41, 90)), ("circle", (73, 73)))]
    noise = np.random.default_rng(0)
    images += [Image.fromarray(noise.integers(0, 256, size, dtype=np.uint8))
               for size in ((80, 121, 3), (901, 487, 3))]  # the second: Pillow reduces first
    paths = []
    for i, image in enumerate(images):
        paths.append(folder / f"img{i}.png")
        image.save(paths[-1])
    return paths


def browser(tmp_path: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(str(DRIVER)))


def classify_in_page(driver, index: Path, images: list[Path]) -> list[dict]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(index.as_uri())
    status = driver.find_element(By.ID, "status")
    WebDriverWait(driver, 120).until(lambda d: not status.text.startswith("Loading"))
    assert status.text.startswith("Ready"), status.text
    driver.execute_script("TG.keepInputs = true")
    driver.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in images))
    WebDriverWait(driver, 120).until(
        lambda d: d.execute_script("return TG.results.length") == len(images))
    return driver.execute_script("return TG.results")


def classify_more(driver, images: list[Path], before: int) -> list[dict]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in images))
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return TG.results.length") == before + len(images))
    return driver.execute_script("return TG.results")[before:]


def classify_camera(driver) -> list[str]:
    """The camera's frames (Chromium's fake camera) classified live: the bars' texts."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, "camera").click()
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return TG.frames || 0") >= 3)
    return driver.execute_script(  # in one go: the bars are redrawn for every frame
        "return Array.from(document.querySelectorAll('#livebars .bar'), b => b.innerText)")


def test_the_page_answers_as_predict_does_from_a_file_url(page, trained_run, tmp_path, capsys):
    folder = page.path.parent
    names = {p.name for p in folder.iterdir()}
    assert names == {"index.html", "model.js", "ort-wasm.js", "ort.wasm.min.js", "model.onnx",
                     "model.labels.json", "model.preprocess.json"}
    assert page.format == "web" and not page.warning and page.max_diff <= page.tolerance
    sources = re.findall(r'<script src="([^"]+)"', page.path.read_text())
    assert sources == ["model.js", "ort-wasm.js", "ort.wasm.min.js"]  # nothing from a network
    images = sample_images(tmp_path)
    assert main(["predict", str(trained_run), *map(str, images), "--json", "--top-k", "3"]) == 0
    want = json.loads(capsys.readouterr().out)
    driver = browser(tmp_path)
    try:
        got = classify_in_page(driver, page.path, images)
        broken = tmp_path / "broken.png"
        broken.write_bytes(b"not an image")
        [bad] = classify_more(driver, [broken], len(images))
        live = classify_camera(driver)
    finally:
        driver.quit()
    classes = json.loads((folder / "model.labels.json").read_text())
    pre = load_run(trained_run).preprocess
    for expected, result, path in zip(want, got, images, strict=True):
        assert "error" not in result, result
        # the page prepares the pixels exactly as the app does (resize, crop, scale)
        app = unit_transform(pre)(load_base(str(path), pre.resize_size)).numpy().ravel()
        assert np.abs(np.array(result["input"]) - app).max() < 1e-6, path.name
        probs = result["outputs"]["logits"]
        page_top = [(classes[i], probs[i]) for i in np.argsort(probs)[::-1]]
        assert page_top[0][0] == expected["top_k"][0]["label"], (result["file"], page_top)
        for (name, p), e in zip(page_top, expected["top_k"], strict=True):
            assert name == e["label"]
            assert abs(p - e["probability"]) < 1e-3, (result["file"], name, p, e)
    # a file that is no image: said on its card, and the page goes on working
    assert "error" in bad and not bad["outputs"]
    # the camera: every class with a probability, the frames classified one after another
    assert len(live) == len(classes) and all(t.endswith("%") for t in live), live


def test_without_the_runtime_the_page_loads_it_from_the_cdn(trained_run, tmp_path, monkeypatch,
                                                           capsys):
    monkeypatch.setattr(exportweb, "cache_folders", lambda: [tmp_path / "none"])
    out = tmp_path / "cdn-web"
    assert main(["export", str(trained_run), "--out", str(out)]) == 0
    assert "needs a network connection" in capsys.readouterr().err
    html = (out / "index.html").read_text()
    assert exportweb.CDN + exportweb.RUNTIME in html and "needs a network connection" in html
    assert not (out / "ort-wasm.js").exists() and (out / "model.js").is_file()
    with pytest.raises(UserError, match="holds no onnxruntime-web files"):
        export_run(trained_run, tmp_path / "x-web", "web", ort_web=tmp_path / "none")
    # the version CI installs is the one the page falls back to
    root = Path(__file__).resolve().parents[1]
    for text in ((root / ".ci" / "run").read_text(), (root / "README.md").read_text()):
        assert f"onnxruntime-web@{exportweb.ORT_WEB_VERSION}" in text
    assert export_format_for("a/b-web") == "web"
    assert default_export_path("run", "web") == Path("run/export/model-web")
