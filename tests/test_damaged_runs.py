"""Hand-edited or damaged run files are one line naming the file and what is wrong (exit 2),
never an internal error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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


def test_paths_the_file_system_refuses_are_one_line(tmp_path, capsys):
    import os

    long = tmp_path / ("x" * 300)
    assert run_cli(["train", *GAN, "--steps", "2", "--out", str(long)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "longer than the file system allows" in err
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xffname"))
    assert run_cli(["train", *GAN, "--steps", "2", "--out", str(odd)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not valid UTF-8" in err and "internal error" not in err
    assert not odd.exists()  # refused before anything was created


def test_a_full_disk_while_saving_is_one_line_and_keeps_the_last_checkpoint(trained, tmp_path,
                                                                           capsys, monkeypatch):
    from safetensors import SafetensorError

    from genzoo.training import runs

    run = tmp_path / "r"
    shutil.copytree(trained, run)
    before = sorted(p.name for p in (run / "checkpoints").iterdir())

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: "
                              "StorageFull, message: \"No space left on device\" })")

    monkeypatch.setattr(runs, "save_file", full)
    capsys.readouterr()
    assert run_cli(["train", "--resume", str(run), "--steps", "8", "--no-progress"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the schedules' note
    assert last.startswith("error: the disk is full writing") and "last complete checkpoint" \
        in last, last
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before


def test_a_refused_shorter_resume_leaves_config_json_alone(trained, tmp_path, capsys):
    run = tmp_path / "r"
    shutil.copytree(trained, run)
    before = (run / "config.json").read_text()
    capsys.readouterr()
    assert run_cli(["train", "--resume", str(run), "--steps", "3", "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "trained to step 5" in out.out and "schedules" not in out.err
    assert (run / "config.json").read_text() == before


def test_a_checkpoints_folder_linked_out_of_the_run_is_refused(trained, tmp_path, capsys):
    run = tmp_path / "r"
    shutil.copytree(trained, run)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(run / "checkpoints", elsewhere)
    (run / "checkpoints").symlink_to(elsewhere)
    files = sorted(p.name for p in elsewhere.iterdir())
    capsys.readouterr()
    assert run_cli(["train", "--resume", str(run), "--steps", "8", "--no-progress"]) == 2
    assert "is a link to" in capsys.readouterr().err
    assert sorted(p.name for p in elsewhere.iterdir()) == files  # nothing written or pruned


def test_seed_counts_are_bounded_by_what_they_cost(tmp_path, capsys):
    assert run_cli(["train", *GAN, "--seeds", str(10**9), "--out", str(tmp_path / "a")]) == 2
    assert "--seeds must be in 1..100000" in capsys.readouterr().err
    assert run_cli(["compare", "gan", "--toy", "grid25", "--seeds", str(10**9), "--out",
                    str(tmp_path / "c")]) == 2
    assert "--seeds must be in 1..100000" in capsys.readouterr().err
    # within the cap but more copies of the networks than this machine holds
    assert run_cli(["train", "ali", "--dataset", "mnist5k", "--seeds", "100000", "--out",
                    str(tmp_path / "b"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "100000 seeds of ali needs at least" in err and "train fewer seeds" in err
    assert not (tmp_path / "b").exists()


def test_ctrl_c_while_the_command_starts_is_one_quiet_line():
    import signal
    import subprocess
    import sys
    import time

    launcher = Path(sys.executable).with_name("genzoo")
    if not launcher.exists():
        pytest.skip("no installed genzoo command")
    proc = subprocess.Popen([str(launcher), "plugins"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # past the interpreter's own start, inside torch's and typer's imports
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the command finished before the signal arrived")
    assert proc.returncode == 130 and err.strip() == "interrupted", err[-500:]


def _two_checkpoints(tmp_path):
    run = tmp_path / "r2"
    assert run_cli(["train", *GAN, "--steps", "6", "--checkpoint-every", "3", "--out",
                    str(run)]) == 0
    return run


def test_a_checkpoint_of_another_run_or_with_nan_weights_names_the_way_back(tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    from genzoo.core.atomic import file_digest

    run = _two_checkpoints(tmp_path)
    meta = run / "checkpoints" / "step-00000006.json"
    tensors = meta.with_suffix(".safetensors")
    record = json.loads(meta.read_text())
    meta.write_text(json.dumps({**record, "model": "ali"}))
    capsys.readouterr()
    assert run_cli(["sample", str(run), "-n", "4", "-o", str(tmp_path / "s.npy")]) == 2
    err = capsys.readouterr().err
    assert "written for model 'ali', and this run is 'gan'" in err
    assert "move both files of step 6 out of checkpoints/" in err
    meta.write_text(json.dumps(record))
    weights = load_file(tensors)
    key = next(k for k in weights if k.startswith("model/") and weights[k].is_floating_point())
    weights[key] = weights[key] * float("nan")
    save_file(weights, tensors)
    meta.write_text(json.dumps({**record, "sha256": file_digest(tensors)}))
    assert run_cli(["train", "--resume", str(run), "--steps", "9", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "holds weights that are not finite" in err and "lower the learning rate" not in err
