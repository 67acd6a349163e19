"""`genzoo train --config FILE`: a TOML file or a run's config.json describes the run; a run
retrained from its own config.json is bit-identical on CPU; options on the command line win,
and the new run records the file and what overrode it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from host_helpers import run_cli
from safetensors.torch import load_file

from genzoo.training.runs import Run

GAN = ["gan", "--toy", "grid25", "--set", "decoder_hidden=16", "--set", "disc_units=16",
       "--no-progress"]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    step = Run(run).checkpoint_steps()[-1]
    return load_file(run / "checkpoints" / f"step-{step:08d}.safetensors")


def test_a_run_retrained_from_its_config_json_is_bit_identical(tmp_path):
    first, again = tmp_path / "first", tmp_path / "again"
    assert run_cli(["train", *GAN, "--steps", "30", "--seeds", "2", "--seed", "3",
                    "--out", str(first)]) == 0
    assert run_cli(["train", "--config", str(first / "config.json"), "--out", str(again),
                    "--no-progress"]) == 0
    a, b = _weights(first), _weights(again)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    config = json.loads((again / "config.json").read_text())
    assert config["seeds"] == [3, 4] and config["model_config"]["decoder_hidden"] == 16
    assert config["config_file"] == {"path": str((first / "config.json").resolve()),
                                     "overridden_by_options": []}


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_a_toml_file_with_options_overriding_it(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('model = "gan"\ndataset = "grid25"\nseeds = 2\nsteps = 20\n'
                    '[settings]\ndecoder_hidden = 16\ndisc_units = 16\nlr = 1e-3\n')
    run = tmp_path / "r"
    assert run_cli(["train", "--config", str(toml), "--steps", "10", "--set", "lr=5e-4",
                    "--out", str(run), "--no-progress"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["steps"] == 10 and config["seeds"] == [0, 1]
    assert config["model_config"]["lr"] == 5e-4 and config["model_config"]["disc_units"] == 16
    assert set(config["config_file"]["overridden_by_options"]) == {"steps", "--set"}


@pytest.mark.parametrize("text, message", [
    ('model = "gan"\n', "must name the dataset"),
    ('model = "gan"\ndataset = "grid25"\nlr = 1\n', "unknown key(s) lr"),
    ('model = "gan"\ndataset = "grid25"\n[settings]\nlrr = 1\n', "lrr"),
    ('model = "gan"\ndataset = "grid25"\nseeds = "x"\n', "seeds must be"),
    ("model = ", "is not valid TOML"),
    ('model = "gan"\ndataset = "grid25"\nsteps = "five"\n',
     "steps is 'five', but it takes an integer"),
    ('model = "gan"\ndataset = "grid25"\nsteps = 5.5\n', "steps is 5.5, but it takes an integer"),
    ('model = "gan"\ndataset = "grid25"\n[settings]\nlr = "fast"\n',
     "settings: lr is 'fast', but it takes a number"),
    (b'model = "gan"\n\xff\xfe = 1\n', "is not UTF-8 text"),
])
def test_bad_files_are_one_line_errors(tmp_path, capsys, text, message):
    if sys.version_info < (3, 11):
        pytest.skip("tomllib")
    toml = tmp_path / "bad.toml"
    toml.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert run_cli(["train", "--config", str(toml), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "r").exists()  # refused before anything was written


@pytest.mark.parametrize("text, message", [
    ('models = ["gan"]\nmetrics = "mode-coverage"\n', "metrics is 'mode-coverage', but it must "
                                                      "be a list of evaluator names"),
    ('models = ["gan"]\nsteps = "many"\n', "steps is 'many', but it must be a whole number"),
])
def test_bad_compare_files_are_one_line_errors(tmp_path, capsys, text, message):
    if sys.version_info < (3, 11):
        pytest.skip("tomllib")
    toml = tmp_path / "bad.toml"
    toml.write_text(text)
    assert run_cli(["compare", "--config", str(toml), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_a_compare_from_a_toml_file(tmp_path, capsys):
    toml = tmp_path / "cmp.toml"
    toml.write_text('models = ["gan", "vae"]\ndataset = "grid25"\nseeds = 2\nsteps = 20\n'
                    'metrics = ["mode-coverage"]\n[settings]\ndecoder_hidden = 16\n'
                    '[settings.gan]\ndisc_units = 16\n')
    out = tmp_path / "out"
    assert run_cli(["compare", "--config", str(toml), "--steps", "10", "--out", str(out),
                    "--no-progress"]) == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == ["gan", "vae"]
    settings = results["settings"]
    assert settings["seeds"] == 2 and settings["steps"] == 10 and settings["metrics"] == [
        "mode-coverage"]
    assert settings["overrides"]["gan"] == {"decoder_hidden": 16, "disc_units": 16}
    assert settings["overrides"]["vae"] == {"decoder_hidden": 16}
    assert settings["config_file"]["overridden_by_options"] == ["steps"]
