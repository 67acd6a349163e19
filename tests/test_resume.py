"""Resume is exact, and a process killed at any moment (even mid-save) leaves a usable run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from host_helpers import set_args, small_overrides

from genzoo import api
from genzoo.cli import main
from genzoo.core import plugins
from genzoo.training.runs import Run
from genzoo.training.trainer import TrainSettings

STEPS, EVERY = 7, 3  # checkpoints at 3 and 6; the interruption comes at step 5


def start(out: Path, model: str, seeds: list[int]) -> api.Session:
    reg = plugins.registry()
    return api.start(reg, model, "grid25", out=out, seeds=seeds, device="cpu",
                     overrides=small_overrides(reg.model(model)),
                     settings=TrainSettings(steps=STEPS, batch_size=16, log_every=1,
                                            checkpoint_every=EVERY, keep_checkpoints=0))


def metrics_without_time(run: Path) -> list[dict]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.mark.parametrize(("model", "seeds"), [("gan", [0]), ("vae", [0]), ("gan", [4, 5]),
                                              ("vae", [4, 5])])
def test_a_run_stopped_and_resumed_ends_bit_for_bit_like_an_uninterrupted_one(
        tmp_path, model, seeds):
    whole = start(tmp_path / "whole", model, seeds)
    whole.trainer.fit()

    broken = start(tmp_path / "broken", model, seeds)
    train_step = broken.model.train_step

    def stop_at_five(batch, step, total_steps):
        if step == 5:  # after the checkpoint at step 3 and one more logged, unsaved step
            raise KeyboardInterrupt
        return train_step(batch, step, total_steps)

    broken.model.train_step = stop_at_five
    with pytest.raises(KeyboardInterrupt):
        broken.trainer.fit()
    assert Run.open(tmp_path / "broken").checkpoint_steps() == [3]
    assert [r["step"] for r in metrics_without_time(tmp_path / "broken")] == [1, 2, 3, 4, 5]

    resumed = api.open_run(plugins.registry(), tmp_path / "broken", device="cpu")
    assert resumed.trainer.step == 3
    resumed.trainer.fit()

    a = Run.open(tmp_path / "whole").load_checkpoint()
    b = Run.open(tmp_path / "broken").load_checkpoint()
    assert a.step == b.step == STEPS
    assert a.tensors.keys() == b.tensors.keys()
    assert any(k.startswith("optim/") for k in a.tensors)  # optimizer state is compared too
    for key in a.tensors:
        assert a.tensors[key].equal(b.tensors[key]), key
    assert {k: v for k, v in a.meta.items() if k != "seconds"} == \
        {k: v for k, v in b.meta.items() if k != "seconds"}
    # the records logged after the checkpoint were dropped and logged again, identically
    assert metrics_without_time(tmp_path / "whole") == metrics_without_time(tmp_path / "broken")


# --- kill -9 a real `genzoo train` ------------------------------------------------------------


def checkpoint_names(run: Path) -> list[str]:
    try:
        return os.listdir(run / "checkpoints")
    except FileNotFoundError:
        return []


def complete_steps(names: list[str]) -> set[int]:
    return {int(n[5:13]) for n in names if n.startswith("step-") and n.endswith(".json")}


def saving_tensors(names: list[str]) -> bool:
    """A checkpoint's tensors are being written (its temporary file exists)."""
    return any(n.startswith(".step-") and ".safetensors." in n and n.endswith(".tmp")
               for n in names)


def tensors_without_sidecar(names: list[str], after: int) -> bool:
    """A checkpoint past step ``after`` is renamed into place, but the sidecar that makes it
    count is not there yet."""
    tensors = {int(n[5:13]) for n in names if n.startswith("step-") and
               n.endswith(".safetensors")}
    return any(step > after for step in tensors - complete_steps(names))


def kill_when(proc: subprocess.Popen, run: Path, moment, timeout: float = 90.0) -> bool:
    """SIGKILL ``proc`` the moment ``moment(names, baseline)`` holds, polling the checkpoint
    directory flat out once the process has written its first checkpoint (``baseline``, its
    step). Returns whether the moment was seen."""
    deadline = time.monotonic() + timeout
    before = max(complete_steps(checkpoint_names(run)), default=0)
    baseline = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"genzoo train exited early: {proc.stderr.read()}")
        names = checkpoint_names(run)
        if baseline is None:
            new = [s for s in complete_steps(names) if s > before]
            if not new:
                time.sleep(0.01)  # still starting up: leave it the CPU
                continue
            baseline = min(new)
        if moment(names, baseline):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
    proc.kill()
    proc.wait()
    return False


def spawn(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENZOO_")}
    return subprocess.Popen([sys.executable, "-m", "genzoo", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_kill_at_any_moment_even_mid_save_leaves_a_loadable_run_that_resumes(tmp_path):
    run = tmp_path / "run"
    small = set_args(small_overrides(plugins.registry().model("vae")))
    common = ["--checkpoint-every", "1", "--log-every", "1", "--no-progress", "--device", "cpu"]
    first = ["train", "vae", "--toy", "grid25", "--steps", "1000000", "--batch-size", "8",
             "--out", str(run), *small, *common]
    again = ["train", "--resume", str(run), *common]

    mid_save = "while writing a checkpoint's tensors"
    moments = [  # (when to kill, attempts): a kill can land just after the rename; retry then
        (mid_save, lambda names, base: saving_tensors(names), 4),
        ("between the tensors and their sidecar", tensors_without_sidecar, 1),
        ("at an arbitrary step",
         lambda names, base: max(complete_steps(names), default=0) >= base + 3, 1),
    ]
    seen_mid_save = False
    args = first
    for label, moment, attempts in moments:
        for _ in range(attempts):
            assert kill_when(spawn(args, tmp_path), run, moment), f"never saw: {label}"
            args = again
            # the kill landed mid-save when the checkpoint's temporary file is left behind
            seen_mid_save |= saving_tensors(checkpoint_names(run))
            # the latest complete checkpoint loads, whatever the kill left behind
            r = Run.open(run)
            latest = r.checkpoint_steps()[-1]
            assert r.load_checkpoint().step == latest
            session = api.open_run(plugins.registry(), run, device="cpu")
            assert session.trainer.step == latest, label
            if label != mid_save or seen_mid_save:
                break
    assert seen_mid_save, "no kill landed while a checkpoint was being written"

    # --resume completes the run; the temp files a kill left are gone after the next save
    target = Run.open(run).checkpoint_steps()[-1] + 5
    with pytest.raises(SystemExit) as exited:
        main(["train", "--resume", str(run), "--steps", str(target), *common])
    assert exited.value.code == 0
    r = Run.open(run)
    assert r.checkpoint_steps()[-1] == target and r.load_checkpoint().step == target
    assert not [n for n in checkpoint_names(run) if n.endswith(".tmp")]
    steps = [rec["step"] for rec in r.metrics()]
    assert steps == list(range(1, target + 1))  # no gap, no step logged twice
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == target
