"""Data-parallel training under torchrun (2 CPU processes, gloo).

One straight 2-process run of a tiny ALI (BatchNorm, dropout, noise-input encoder, two D
updates per step, two seeds) serves most checks; a second launch resumes a copy of it from its
step-3 checkpoint. Each launch costs a few seconds of process start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from host_helpers import set_args
from model_cases import TINY_PAPERLIKE, fit_overrides, model_class

from genzoo import api
from genzoo.cli import main
from genzoo.core import plugins
from genzoo.core.model import Batch
from genzoo.core.rng import ReplicaRNG
from genzoo.training import distributed
from genzoo.training.runs import Run

STEPS, RESUME_FROM = 6, 3
TRAIN = ["--toy", "grid25", "--steps", str(STEPS), "--batch-size", "16", "--seeds", "2",
         "--log-every", "1", "--checkpoint-every", str(RESUME_FROM), "--device", "cpu",
         "--no-progress"]


def overrides() -> list[str]:
    tiny = fit_overrides(model_class("ali"), TINY_PAPERLIKE)
    return set_args({k: v for k, v in tiny.items() if k not in ("steps", "batch_size")})


def torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("torchrun")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m",
                                                      "torch.distributed.run"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GENZOO_") and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run([*launcher, "--standalone", "--nproc-per-node", "2", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A 2-process run to STEPS with checkpoints at RESUME_FROM and STEPS."""
    root = tmp_path_factory.mktemp("ddp")
    proc = torchrun(["-m", "genzoo", "train", "ali", *TRAIN, "--out", "A", *overrides()], root)
    return root / "A", proc


def records(run: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_only_rank_0_writes_and_every_rank_holds_the_same_weights(straight):
    run, proc = straight
    assert proc.stdout.count("run written to") == 1  # rank 1 prints nothing either
    assert [r["step"] for r in records(run)] == list(range(1, STEPS + 1))  # no line twice
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    ckpt = Run.open(run).load_checkpoint()
    assert ckpt.step == STEPS and ckpt.meta["world_size"] == 2
    # every rank's digest of its model state, gathered at the checkpoint: all are the digest
    # of the state rank 0 saved
    session = api.open_run(plugins.registry(), run, device="cpu")
    saved = bytes(distributed.state_digest(session.model).tolist()).hex()
    assert ckpt.meta["rank_state_sha256"] == [saved, saved]


def test_each_rank_draws_its_own_data_and_noise_and_all_states_are_saved(straight):
    run, _ = straight
    t = Run.open(run).load_checkpoint().tensors
    for stream in ("data", "noise"):
        ranks = t[f"rng/ranks/{stream}"]
        assert ranks.shape[:2] == (2, 2)  # (world size, seeds)
        assert ranks[0].equal(t[f"rng/{stream}"])  # rank 0's is the single-process state
        assert not ranks[0].equal(ranks[1])
    # rank 0 draws the single-process stream; rank r > 0 one derived from (seed, r)
    plain = ReplicaRNG([3, 4], "data")
    assert distributed.rank_rng([3, 4], "data", 0).get_state().equal(plain.get_state())
    streams = [distributed.rank_rng([3, 4], "data", r).randn(5) for r in range(3)]
    assert not streams[0].equal(streams[1]) and not streams[1].equal(streams[2])
    assert not streams[1][0].equal(streams[1][1])  # seeds stay apart within a rank


def test_the_ranks_take_the_steps_of_the_gradient_averaged_over_both(straight):
    """An independent oracle: two copies of the model fed the ranks' batches and noise, run in
    two threads whose optimizers average their gradients (sum / 2) before every step, with
    rank 0's BatchNorm statistics copied to rank 1 before each step, as DDP broadcasts them."""
    run, _ = straight
    reg = plugins.registry()
    ranks = [api.open_run(reg, run, device="cpu", load_weights=False) for _ in range(2)]
    alone = api.open_run(reg, run, device="cpu", load_weights=False)  # rank 0 on its own
    shared: list[list[torch.Tensor | None]] = [[], []]
    barrier = threading.Barrier(2)

    def averaging(rank: int):
        def hook(opt, args, kwargs):
            params = [p for g in opt.param_groups for p in g["params"]]
            shared[rank] = [None if p.grad is None else p.grad.clone() for p in params]
            barrier.wait()
            for p, a, b in zip(params, shared[rank], shared[1 - rank], strict=True):
                if a is not None or b is not None:
                    zero = torch.zeros_like(p)
                    p.grad = ((zero if a is None else a) + (zero if b is None else b)) / 2
            barrier.wait()
        return hook

    for rank, session in enumerate(ranks):
        distributed.reseed(session.model.noise, rank)
        session.trainer.data_rng = distributed.rank_rng(session.model.seeds, "data", rank)
        for opt in session.model.optimizers().values():
            opt.register_step_pre_hook(averaging(rank))
        session.model.train()
    alone.model.train()
    errors: list[BaseException] = []

    def take_step(rank: int, batch: Batch, step: int) -> None:
        try:
            ranks[rank].model.train_step(batch, step, STEPS)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            barrier.abort()

    for step in range(RESUME_FROM):
        for mine, theirs in zip(ranks[1].model.buffers(), ranks[0].model.buffers(), strict=True):
            mine.copy_(theirs)
        batches = [session.trainer.draw() for session in ranks]
        threads = [threading.Thread(target=take_step, args=(r, batches[r], step))
                   for r in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors
        alone.model.train_step(batches[0], step, STEPS)
    saved = Run.open(run).load_checkpoint(RESUME_FROM).tensors
    differs = False
    for key, value in ranks[0].model.state_dict().items():
        torch.testing.assert_close(value, saved[f"model/{key}"], rtol=1e-5, atol=1e-7)
        # the test has power: rank 0's gradient alone gives other weights
        differs |= not torch.allclose(alone.model.state_dict()[key], saved[f"model/{key}"],
                                      rtol=1e-3, atol=1e-6)
    assert differs


def test_a_resumed_two_process_run_ends_bit_for_bit_like_the_straight_one(straight, tmp_path):
    run, _ = straight
    broken = tmp_path / "B"
    shutil.copytree(run, broken)
    # as if killed after the step-3 checkpoint and 2 more logged steps
    for path in (broken / "checkpoints").iterdir():
        if int(path.name[5:13]) > RESUME_FROM:
            path.unlink()
    with open(broken / "metrics.jsonl") as f:
        lines = f.readlines()[:RESUME_FROM + 2]
    (broken / "metrics.jsonl").write_text("".join(lines))
    torchrun(["-m", "genzoo", "train", "--resume", "B", "--device", "cpu", "--no-progress"],
             tmp_path)
    a, b = Run.open(run).load_checkpoint(), Run.open(broken).load_checkpoint()
    assert a.step == b.step == STEPS
    assert a.tensors.keys() == b.tensors.keys()
    for key in a.tensors:
        assert a.tensors[key].equal(b.tensors[key]), key
    assert {k: v for k, v in a.meta.items() if k != "seconds"} == \
        {k: v for k, v in b.meta.items() if k != "seconds"}
    assert records(run) == records(broken)


def test_a_single_process_refuses_to_continue_a_two_process_run_but_can_sample_it(
        straight, tmp_path, capsys):
    run, _ = straight
    copy = tmp_path / "A"
    shutil.copytree(run, copy)
    with pytest.raises(SystemExit) as exited:
        main(["train", "--resume", str(copy), "--steps", str(STEPS + 2), "--device", "cpu",
              "--no-progress"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "trained by 2 process(es)" in err and "--nproc-per-node 2" in err
    with pytest.raises(SystemExit) as exited:
        main(["sample", str(copy), "-n", "8", "-o", str(tmp_path / "s.npy"), "--device", "cpu"])
    assert exited.value.code == 0 and (tmp_path / "s.npy").exists()


def test_the_collectives_on_a_plain_torch_model(tmp_path):
    """Rank 0's weights everywhere at the start (the ranks began with different ones), the mean
    gradient before the step of an optimizer the model does not list, torch BatchNorm buffers
    broadcast, a gradient only one rank has, metrics averaged: see distributed_probe.py."""
    torchrun([str(Path(__file__).with_name("distributed_probe.py"))], tmp_path)
    assert (tmp_path / "ok-0").exists() and (tmp_path / "ok-1").exists()


@pytest.mark.parametrize("args", [["evaluate", "RUN", "--metric", "mode-coverage"],
                                  ["sample", "RUN"], ["fid", "A", "B"]])
def test_commands_other_than_train_and_compare_refuse_torchrun(args, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert "only `genzoo train` and `genzoo compare` run under torchrun" in \
        capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written
