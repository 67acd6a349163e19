"""Runs never dead-end and have one writer: a run stopped before its first checkpoint restarts
or resumes from step 0, SIGINT/SIGTERM write a checkpoint before exiting, checkpoints also
come on a wall-clock interval, and a second writer of a run or compare directory is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from host_helpers import run_cli
from safetensors.torch import load_file

from genzoo.training.locks import LOCK_NAME, DirLock
from genzoo.training.runs import Run

GAN = ["gan", "--toy", "grid25", "--set", "decoder_hidden=16", "--set", "disc_units=16",
       "--no-progress"]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    steps = Run(run).checkpoint_steps()
    path = run / "checkpoints" / f"step-{steps[-1]:08d}.safetensors"
    return {k: v for k, v in load_file(path).items() if k.startswith("model/")}


def test_a_run_that_failed_before_its_first_checkpoint_restarts_or_resumes(tmp_path, capsys):
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--precision", "bf16", "--out", str(run)]) == 2
    assert (run / "config.json").exists() and not Run(run).checkpoint_steps()
    capsys.readouterr()
    # train --out again: started again, no manual rm
    assert run_cli(["train", *GAN, "--steps", "20", "--out", str(run)]) == 0
    assert "starting it again" in capsys.readouterr().err
    assert Run(run).checkpoint_steps() == [20]
    # --resume on a run without a checkpoint: from step 0, the same as a fresh start
    fresh, resumed = tmp_path / "fresh", tmp_path / "resumed"
    assert run_cli(["train", *GAN, "--steps", "20", "--out", str(fresh)]) == 0
    assert run_cli(["train", *GAN, "--steps", "20", "--precision", "bf16",
                    "--out", str(resumed)]) == 2
    config = json.loads((resumed / "config.json").read_text())
    config["train"]["precision"] = "fp32"  # what made the first attempt fail
    (resumed / "config.json").write_text(json.dumps(config))
    assert run_cli(["train", "--resume", str(resumed)]) == 0
    a, b = _weights(fresh), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(line)["step"] for line in (resumed / "metrics.jsonl").open()]
    assert steps == sorted(set(steps))


def test_a_run_with_a_checkpoint_is_never_overwritten(tmp_path, capsys):
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 0
    capsys.readouterr()
    assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, capsys):
    run = tmp_path / "r"
    with DirLock(run, "a test's training"):
        assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
        assert f"is in use by genzoo process {os.getpid()} (a test's training)" in err
        assert not (run / "config.json").exists()  # nothing written by the refused one
    assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 0
    # a compare directory too
    out = tmp_path / "cmp"
    with DirLock(out, "another compare"):
        assert run_cli(["compare", "gan", "--toy", "grid25", "--seeds", "1", "--steps", "5",
                        "--metric", "mode-coverage", "--out", str(out), "--no-progress"]) == 2
        assert "is in use by genzoo process" in capsys.readouterr().err
        assert [p.name for p in out.iterdir()] == [LOCK_NAME]


def test_a_stale_lock_of_a_dead_process_never_blocks(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / LOCK_NAME).write_text("genzoo process 999999 (training a run)")  # no flock held
    assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 0


def test_checkpoints_come_on_a_wall_clock_interval(tmp_path):
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "60", "--checkpoint-every", "0",
                    "--checkpoint-minutes", "0.0001", "--out", str(run)]) == 0
    steps = Run(run).checkpoint_steps()
    assert len(steps) == 2 and steps[-1] == 60 and steps[0] < 60  # keep 2: an earlier one
    assert run_cli(["train", *GAN, "--steps", "5", "--checkpoint-minutes", "-1",
                    "--out", str(tmp_path / "bad")]) == 2


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_writes_a_checkpoint_at_the_current_step_and_exits(tmp_path, sig, code):
    run = tmp_path / "r"
    script = Path(sys.executable).with_name("genzoo")
    cmd = [str(script), "train", *GAN, "--steps", "1000000", "--checkpoint-every", "0",
           "--checkpoint-minutes", "0", "--log-every", "10", "--out", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) <= 2 and "interrupted at step" in err and "--resume" in err
    steps = Run(run).checkpoint_steps()
    assert len(steps) == 1 and 0 < steps[0] < 1_000_000
    assert f"interrupted at step {steps[0]}" in " ".join(lines)
    # and it resumes from there
    assert run_cli(["train", "--resume", str(run), "--steps", str(steps[0] + 10)]) == 0
    assert Run(run).checkpoint_steps()[-1] == steps[0] + 10


@pytest.mark.parametrize("args, message", [
    (["--batch-size", "1", "--steps", "3"], "--batch-size 1 is too small for gan's BatchNorm"),
    (["--set", "lr=-1"], "setting lr=-1.0 must be positive"),
    (["--set", "lr=nan"], "setting lr=nan is not a finite number"),
    (["--set", "z_dim=0"], "setting z_dim=0 must be positive"),
])
def test_bad_settings_are_one_line_errors_with_exit_2(tmp_path, capsys, args, message):
    assert run_cli(["train", *GAN, *args, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("args, message", [
    (["ali"], "was started with the model gan, not ali"),
    (["--toy", "ring8"], "was started with --toy/--dataset grid25, not ring8"),
    (["--batch-size", "7"], "--batch-size"),
    (["--set", "lr=0.1"], "--set is fixed when a run starts"),
    (["--seeds", "3"], "--seeds/--seed cannot change on --resume"),
    (["--preset", "paper"], "--preset"),
])
def test_resume_refuses_options_that_contradict_the_run(tmp_path, capsys, args, message):
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 0
    capsys.readouterr()
    model_args = args if args[0] == "ali" else []
    rest = args[1:] if model_args else args
    assert run_cli(["train", *model_args, "--resume", str(run), "--steps", "20", *rest]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert Run(run).checkpoint_steps() == [10]
    # what may change: more steps, and the same values spelled out
    assert run_cli(["train", "gan", "--resume", str(run), "--steps", "20", "--toy",
                    "grid25"]) == 0


def test_extending_a_run_says_what_happens_to_its_schedules(tmp_path, capsys):
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 0
    capsys.readouterr()
    assert run_cli(["train", "--resume", str(run), "--steps", "20"]) == 0
    err = capsys.readouterr().err
    assert "now run to step 20, not 10" in err and "will not equal a run of 20 steps" in err
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 20
    assert "its schedules (learning-rate decay) now run" in err
    # resuming to the recorded length says nothing
    assert run_cli(["train", "--resume", str(run), "--steps", "20"]) == 0
    assert "schedules" not in capsys.readouterr().err
    # nor does extending a model whose training does not depend on its length
    flat = tmp_path / "flat"
    assert run_cli(["train", *GAN, "--steps", "10", "--set", "lr_decay=none", "--out",
                    str(flat)]) == 0
    capsys.readouterr()
    assert run_cli(["train", "--resume", str(flat), "--steps", "20"]) == 0
    assert "schedules" not in capsys.readouterr().err


def test_a_run_whose_every_seed_diverges_stops_and_keeps_its_last_finite_checkpoint(
        tmp_path, capsys, monkeypatch):
    from genzoo.core import plugins

    gan = plugins.registry().model("gan")
    real_step = gan.train_step

    def diverging(self, batch, step, total):
        out = real_step(self, batch, step, total)
        if step >= 25:  # from the 26th step on, every seed's loss is NaN
            out = {k: torch.full_like(v, float("nan")) for k, v in out.items()}
        return out

    monkeypatch.setattr(gan, "train_step", diverging)
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "100", "--seeds", "2", "--checkpoint-every",
                    "20", "--log-every", "10", "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "not finite at step 30; its last checkpoint (step 20) is kept" in err
    assert Run(run).checkpoint_steps() == [20]
    for line in (run / "metrics.jsonl").open():
        json.loads(line)  # valid JSON throughout


def test_a_relative_data_dir_is_stored_resolved_and_a_moved_one_can_be_given(
        tmp_path, monkeypatch, capsys):
    from test_datasets_images import write_svhn

    write_svhn(tmp_path / "data" / "svhn", {"train": 8, "test": 4})
    monkeypatch.chdir(tmp_path)
    small = ["--set", "image_net=dcgan", "--set", "image_width=8", "--set", "z_dim=4"]
    assert run_cli(["train", "gan", "--dataset", "svhn", "--data-dir", "data", "--no-verify",
                    "--steps", "2", "--batch-size", "4", *small, "--out", "run",
                    "--no-progress"]) == 0
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["data_options"]
    assert recorded["data_dir"] == str(tmp_path / "data")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run_cli(["sample", str(tmp_path / "run"), "-n", "4", "-o", "s.npy"]) == 0
    (tmp_path / "data").rename(tmp_path / "moved")
    capsys.readouterr()
    assert run_cli(["sample", str(tmp_path / "run"), "-n", "4", "-o", "t.npy"]) == 2
    err = capsys.readouterr().err
    assert "--download`" in err or "genzoo train --download" in err
    assert run_cli(["sample", str(tmp_path / "run"), "-n", "4", "-o", "t.npy",
                    "--data-dir", str(tmp_path / "moved")]) == 0


@pytest.mark.parametrize("args, message", [
    (["ALI", "--toy", "grid25"], "unknown model 'ALI'; did you mean ali?"),
    (["gan", "--toy", "mnist5k"], "--toy takes a toy dataset (grid25, ring8); mnist5k is image"),
])
def test_small_refusals(tmp_path, capsys, args, message):
    assert run_cli(["train", *args, "--steps", "2", "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err


def test_train_never_writes_into_a_folder_that_is_not_a_run(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    assert run_cli(["train", *GAN, "--steps", "2", "--out", str(folder)]) == 2
    assert "not a run; choose a new or empty directory" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]  # nothing added


def test_requests_the_machine_cannot_hold_and_odd_paths_are_refused(tmp_path, capsys):
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 0
    capsys.readouterr()
    assert run_cli(["train", *GAN, "--batch-size", str(10**9), "--out",
                    str(tmp_path / "big")]) == 2
    err = capsys.readouterr().err
    assert f"--batch-size {10**9} needs at least" in err and "more than this machine's" in err
    assert run_cli(["sample", str(run), "-n", str(10**12), "-o", str(tmp_path / "s.npy")]) == 2
    err = capsys.readouterr().err
    # an .npy is written chunk by chunk: the disk, not the memory, bounds it
    assert f"-n {10**12} writes 7450.6 GiB" in err and "ask for fewer samples" in err
    assert run_cli(["sample", str(run), "-n", str(10**12), "-o", str(tmp_path / "s.png")]) == 2
    assert f"-n {10**12} needs at least" in capsys.readouterr().err  # a figure holds them all
    (tmp_path / "dir.png").mkdir()
    assert run_cli(["sample", str(run), "-o", str(tmp_path / "dir.png")]) == 2
    assert "is a folder; name a file" in capsys.readouterr().err


def test_a_config_that_is_a_list_or_a_checkpoint_without_rng_is_refused(tmp_path, capsys):
    from safetensors.torch import save_file

    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 0
    ckpt = run / "checkpoints" / "step-00000010.safetensors"
    tensors = {k: v for k, v in load_file(ckpt).items() if not k.startswith("rng/")}
    save_file(tensors, ckpt)
    sidecar = ckpt.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    from genzoo.core.atomic import file_digest

    sidecar.write_text(json.dumps({**meta, "sha256": file_digest(ckpt)}))
    capsys.readouterr()
    assert run_cli(["sample", str(run), "-o", str(tmp_path / "s.npy")]) == 2
    assert "lacks rng/noise, rng/data" in capsys.readouterr().err
    (run / "config.json").write_text("[1, 2]")
    assert run_cli(["sample", str(run), "-o", str(tmp_path / "s.npy")]) == 2
    assert "holds a JSON list, not a run's settings" in capsys.readouterr().err


def test_a_full_disk_is_one_line_and_the_last_complete_checkpoint_stays(
        tmp_path, capsys, monkeypatch):
    import errno

    import genzoo.training.runs as runs_mod

    run = tmp_path / "r"
    real = runs_mod.atomic_write_json
    saved = []

    def full_at_the_second_sidecar(path, obj):
        if path.suffix == ".json" and path.parent.name == "checkpoints":
            saved.append(path)
            if len(saved) == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, obj)

    monkeypatch.setattr(runs_mod, "atomic_write_json", full_at_the_second_sidecar)
    assert run_cli(["train", *GAN, "--steps", "20", "--checkpoint-every", "10",
                    "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the disk is full writing" in err[0] and "Traceback" not in err[0]
    assert Run(run).checkpoint_steps() == [10]  # the half-written step 20 is not a checkpoint
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-00000010.json", "step-00000010.safetensors"]
    monkeypatch.setattr(runs_mod, "atomic_write_json", real)
    assert run_cli(["train", "--resume", str(run)]) == 0  # space freed: it carries on
    assert Run(run).checkpoint_steps()[-1] == 20


def test_a_read_only_out_is_one_line_with_exit_2_even_under_debug(tmp_path, capsys,
                                                                  monkeypatch):
    import errno

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.geteuid() == 0:  # root writes anywhere: make the folder refuse as it would a user
        real_mkdir = Path.mkdir

        def mkdir(self, *a, **k):
            if ro in self.parents:
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            return real_mkdir(self, *a, **k)

        monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setenv("GENZOO_DEBUG", "0")  # --debug sets it to 1: restored after the test
    try:
        for debug in ([], ["--debug"]):
            assert run_cli([*debug, "train", *GAN, "--steps", "10",
                            "--out", str(ro / "r")]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert "Permission denied" in err[-1] and (debug or len(err) == 1)
    finally:
        ro.chmod(0o700)


def test_a_run_whose_plugin_is_missing_names_the_plugin_and_version(tmp_path, capsys,
                                                                     monkeypatch):
    from genzoo.core import plugins

    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    owner = config["model_plugin"]
    assert owner in config["plugins"] and config["dataset_plugin"]
    capsys.readouterr()
    monkeypatch.setenv("GENZOO_DISABLE_PLUGINS", owner)
    plugins.reset()
    try:
        assert run_cli(["sample", str(run), "-o", str(tmp_path / "s.npy")]) == 2
    finally:
        monkeypatch.delenv("GENZOO_DISABLE_PLUGINS")
        plugins.reset()
    err = capsys.readouterr().err.strip()
    assert f"model 'gan' of plugin {owner!r} {config['plugins'][owner]}" in err
    assert "disabled by GENZOO_DISABLE_PLUGINS" in err and len(err.splitlines()) == 1
    config.update(model="aae", model_plugin="genzoo-aae", plugins={"genzoo-aae": "0.3.1"})
    (run / "config.json").write_text(json.dumps(config))
    assert run_cli(["evaluate", str(run), "-m", "mode-coverage"]) == 2
    err = capsys.readouterr().err
    assert "model 'aae' of plugin 'genzoo-aae' 0.3.1, which is not installed here" in err


def test_an_eval_option_no_evaluator_reads_is_refused_with_a_suggestion(tmp_path, capsys):
    from host_helpers import assert_compare_refuses

    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "10", "--out", str(run)]) == 0
    capsys.readouterr()
    assert run_cli(["evaluate", str(run), "-m", "mode-coverage", "--eval-option",
                    "sample=500"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'sample' is read by none of mode-coverage; did you mean samples?" in err
    assert len(err.splitlines()) == 1 and not (run / "results.json").exists()
    # the samplers' keys and the evaluators' own keys pass
    assert run_cli(["evaluate", str(run), "-m", "mode-coverage", "--eval-option",
                    "samples=500", "--eval-option", "mh_steps=5"]) == 0
    assert_compare_refuses(["gan", "--toy", "grid25", "--steps", "5", "--eval-option",
                            "fid_sample=10"], "'fid_sample' is read by none of",
                           tmp_path / "c", capsys)


@pytest.mark.parametrize("setting, message", [
    ("disc_layers=0", "disc_layers=0 must be at least 1"),
    ("dropout_in=1.0", "dropout_in=1.0 must be below 1"),
    ("disc_pieces=0", "disc_pieces=0 must be at least 1"),
])
def test_a_setting_outside_its_declared_range_is_refused(tmp_path, capsys, setting, message):
    assert run_cli(["train", "ali", "--toy", "grid25", "--set", setting, "--steps", "5",
                    "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()  # refused before anything is written


def test_a_named_pipe_is_called_what_it_is_not_missing(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for args in (["sample", str(fifo), "-o", str(tmp_path / "s.npy")],
                 ["train", "--config", str(fifo), "--out", str(tmp_path / "r")],
                 ["fid", str(fifo), "mnist5k"]):
        assert run_cli(args) == 2
        err = capsys.readouterr().err.strip()
        assert "is a named pipe (FIFO)" in err and len(err.splitlines()) == 1, args


@pytest.mark.slow
def test_the_whole_fault_sweep_holds():
    """bench/fault_sweep.py: every case of issue 13's sweep (about two minutes)."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(root / "bench" / "fault_sweep.py")],
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:]


def test_an_evaluators_refusal_names_the_evaluator():
    from genzoo.core.errors import GenzooError
    from genzoo.data.toy import grid25
    from genzoo.evaluators.base import Evaluator

    class Picky(Evaluator):
        name = "picky"

        def applies_to(self, dataset):
            return "needs image data"  # a reason that does not say whose it is

    class Dummy:
        capabilities = frozenset({"sample"})
        name = "m"

    with pytest.raises(GenzooError, match="^picky: needs image data$"):
        Picky().check(Dummy(), grid25())
