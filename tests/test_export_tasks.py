"""The export of a run of several tasks says what it gives: each output by its task's name, in
its words, in `NAME.preprocess.json` and in its metadata, with a multi-label task's thresholds;
the README's example script answers every task as the run's own prediction does."""

from __future__ import annotations

import contextlib
import io
import json
import random
import sys
from pathlib import Path

import pytest
from test_export import readme_example

from labelgen import _image, write_csv
from runhelpers import tiny_config
from transfer_gui.core import export_description, export_run
from transfer_gui.core.analysis.predict import Predictor
from transfer_gui.core.io import bundle
from transfer_gui.core.train.loop import fit


@pytest.fixture(scope="module")
def garment_run(tmp_path_factory) -> Path:
    """A linear probe of two tasks: `count` (one ink or several) and `inks` (multi-label)."""
    root = tmp_path_factory.mktemp("garments")
    rng = random.Random(3)
    (root / "images").mkdir()
    rows = []
    for i in range(30):
        inks = sorted(rng.sample(["red", "blue", "green"], 1 + i % 2))
        name = f"images/g{i:03d}.png"
        _image(40, rng, inks, "light").save(root / name)
        rows.append([name, "one" if len(inks) == 1 else "several", ";".join(inks)])
    table = write_csv(root / "labels.csv", ["file", "count", "inks"], rows)
    out = root / "run"
    config = tiny_config(table, "linear-probe", epochs=4, lr=0.1, num_workers=0,
                         image_size=32)
    assert fit(config, out).status == "completed"
    return out


def test_the_export_describes_each_task_and_keeps_the_thresholds(garment_run, tmp_path,
                                                                 monkeypatch):
    pytest.importorskip("onnxruntime")
    result = export_run(garment_run, tmp_path / "model.onnx", "onnx")
    said = result.input_text()
    assert result.outputs == ("count", "inks") and "logits for 3 classes" not in said
    assert "count: logits for 2 classes (one, several)" in said
    assert "inks: a logit for each of 3 labels (blue, green, red" in said
    assert export_description(garment_run) == said  # the export dialog's words
    pre = json.loads((tmp_path / "model.preprocess.json").read_text(encoding="utf-8"))
    assert "output" not in pre
    assert [(o["name"], o["multi_label"]) for o in pre["outputs"]] == [
        ("count", False), ("inks", True)]
    thresholds = bundle.read_meta(garment_run)["thresholds"]["inks"]  # chosen on validation
    assert pre["outputs"][1]["thresholds"] == thresholds and len(thresholds) == 3
    import onnxruntime

    props = onnxruntime.InferenceSession(str(result.path)).get_modelmeta().custom_metadata_map
    assert json.loads(props["tasks"])[1]["thresholds"] == thresholds

    predictor = Predictor.from_run(garment_run, device="cpu")
    monkeypatch.chdir(tmp_path)
    for image in sorted((garment_run.parent / "images").iterdir())[:6]:
        monkeypatch.setattr(sys, "argv", ["classify.py", str(image)])
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(readme_example(), "README.md", "exec"), {"__name__": "__main__"})
        [p] = predictor.predict_paths([str(image)])
        expected = [f"count: {p.tasks['count'][0]['label']}",
                    "inks: " + ", ".join(sorted(a["label"] for a in p.tasks["inks"]))]
        assert printed.getvalue().splitlines() == expected


def test_the_web_page_answers_every_task_as_prediction_does(garment_run, tmp_path):
    """The web export of two tasks in headless Chromium: the single-label task's
    probabilities and the multi-label task's labels over their thresholds, as `predict`."""
    from test_export_web import browser, browser_missing, classify_in_page

    if browser_missing():
        pytest.skip(browser_missing())
    page = export_run(garment_run, tmp_path / "garments-web", "web")
    images = sorted((garment_run.parent / "images").iterdir())[:6]
    driver = browser(tmp_path)
    try:
        got = classify_in_page(driver, page.path, images)
        shown = driver.execute_script("return document.querySelectorAll('.output h3').length")
    finally:
        driver.quit()
    assert shown == 2 * len(images)  # one block of bars per task and image
    outputs = {o.name: o for o in page.described}
    predictor = Predictor.from_run(garment_run, device="cpu")
    for image, result in zip(images, got, strict=True):
        [p] = predictor.predict_paths([str(image)])
        count = result["outputs"]["count"]
        for answer in p.tasks["count"]:
            i = outputs["count"].classes.index(answer["label"])
            assert abs(count[i] - answer["probability"]) < 1e-3, image.name
        inks = result["outputs"]["inks"]
        present = [c for c, q, cut in zip(outputs["inks"].classes, inks,
                                          outputs["inks"].thresholds, strict=True) if q >= cut]
        assert sorted(present) == sorted(a["label"] for a in p.tasks["inks"]), image.name
        for answer in p.tasks["inks"]:
            i = outputs["inks"].classes.index(answer["label"])
            assert abs(inks[i] - answer["probability"]) < 1e-3, image.name
