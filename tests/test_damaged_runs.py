"""Hand-edited or damaged run files are one line naming the file and what is wrong (exit 2),
never an internal error."""

from __future__ import annotations

import json
import shutil

import pytest
from host_helpers import run_cli

GAN = ["gan", "--toy", "grid25", "--set", "decoder_hidden=16", "--set", "disc_units=16",
       "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "r"
    assert run_cli(["train", *GAN, "--steps", "5", "--out", str(run)]) == 0
    return run


def _config(run, change):
    config = json.loads((run / "config.json").read_text())
    change(config)
    (run / "config.json").write_text(json.dumps(config))


CASES = {
    "seeds": (lambda c: c.update(seeds="abc"), "seeds is 'abc', but it must be a non-empty "
                                                "list of integer seeds"),
    "dataset": (lambda c: c.update(dataset=["grid25"]), "dataset is ['grid25'], but it must be "
                                                         "a dataset's name"),
    "z_dim": (lambda c: c["model_config"].update(z_dim="two"),
              "model_config: z_dim is 'two', but it takes an integer"),
    "model_config": (lambda c: c.update(model_config=[1, 2]), "model_config is [1, 2]"),
    "train steps": (lambda c: c["train"].update(steps="five"),
                    "train: steps is 'five', but it takes an integer"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_hand_edited_config_is_one_line(trained, tmp_path, capsys, case):
    run = tmp_path / "r"
    shutil.copytree(trained, run)
    change, words = CASES[case]
    _config(run, change)
    capsys.readouterr()
    assert run_cli(["sample", str(run), "-n", "5", "-o", str(tmp_path / "s.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{run}/config.json" in err and words in err, err


@pytest.mark.parametrize(("name", "make", "words"), [
    ("metrics.jsonl", lambda p: p.mkdir(), "is a folder, where the run keeps its file"),
    ("tensorboard", lambda p: p.write_text(""), "is a file, where the run keeps its folder"),
    ("checkpoints", lambda p: p.write_text(""), "is a file, where the run keeps its folder"),
])
def test_a_run_file_replaced_by_a_folder_or_the_reverse_is_one_line(trained, tmp_path, capsys,
                                                                      name, make, words):
    run = tmp_path / "r"
    shutil.copytree(trained, run)
    target = run / name
    shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    make(target)
    capsys.readouterr()
    assert run_cli(["train", "--resume", str(run), "--steps", "8", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{target} {words}" in err, err


def test_results_json_holding_a_list_is_refused_and_kept(trained, tmp_path, capsys):
    run = tmp_path / "r"
    shutil.copytree(trained, run)
    (run / "results.json").write_text("[1, 2]")
    capsys.readouterr()
    assert run_cli(["evaluate", str(run), "--metric", "mode-coverage"]) == 2
    assert "results.json holds no evaluators' results (a JSON list)" in capsys.readouterr().err
    assert (run / "results.json").read_text() == "[1, 2]"  # nothing the user made is lost
