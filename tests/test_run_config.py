"""`train --config RUN_CONFIG`: a script launches exactly the configuration set up in the window
(exported from it, or the one a run folder's run.json holds)."""

from __future__ import annotations

import dataclasses

import pytest

from runhelpers import tiny_config
from transfer_gui.cli import main
from transfer_gui.core import RunError, load_run_config, save_run_config
from transfer_gui.core.io import bundle


def _config(shapes_dir):
    config = tiny_config(shapes_dir, epochs=1, lr=0.02, seed=3)
    return dataclasses.replace(config, data=dataclasses.replace(config.data, val_split=0.25))


def test_an_exported_configuration_trains_as_it_was_set_up(shapes_dir, tmp_path, capsys):
    config = _config(shapes_dir)
    exported = tmp_path / "setup.json"
    save_run_config(exported, config)
    assert load_run_config(exported) == config
    run = tmp_path / "run"
    assert main(["train", "--config", str(exported), "--out", str(run)]) == 0
    saved = bundle.read_meta(run)["config"]
    expected = config.resolved().to_dict()
    assert expected["train"]["balance"] is None  # auto: run.json records what it settled on
    expected["train"]["balance"] = "none"  # (a balanced folder)
    assert saved == expected
    assert saved["train"]["lr"] == 0.02 and saved["data"]["val_split"] == 0.25
    # the run's own run.json (or its folder) is a configuration too: the same run again
    settled = dataclasses.replace(config.resolved(), train=dataclasses.replace(
        config.resolved().train, balance="none"))
    assert load_run_config(run / bundle.META) == load_run_config(run) == settled


def test_data_given_replaces_the_folder_and_recipe_options_are_refused(shapes_dir, tmp_path,
                                                                       capsys):
    exported = tmp_path / "setup.json"
    save_run_config(exported, dataclasses.replace(
        _config(shapes_dir), data=dataclasses.replace(_config(shapes_dir).data, root="")))
    with pytest.raises(SystemExit):
        main(["train", "--config", str(exported), "--out", str(tmp_path / "r")])
    assert "names no image folder: give DATA" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", str(shapes_dir), "--config", str(exported), "--lr", "0.5",
              "--epochs", "4", "--out", str(tmp_path / "r")])
    assert "leave out --epochs, --lr" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--resume", str(tmp_path / "r"), "--config", str(exported)])
    assert "leave out --config" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("text, words", [
    ("{not json", "cannot be read"),
    ("[1, 2]", "does not hold a JSON object"),
    ('{"app": "transfer_gui", "classes": []}', "holds no run configuration"),
    ('{"config": {"train": {"epochs": -3}}}', "epochs"),
])
def test_a_bad_configuration_file_is_named_with_what_is_wrong(tmp_path, capsys, text, words):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert words in err and str(bad) in err
    assert not (tmp_path / "r").exists()


def test_a_missing_file_is_a_run_error(tmp_path):
    with pytest.raises(RunError, match="not found"):
        load_run_config(tmp_path / "nothing.json")
