"""TensorBoard event files of a run: read back with tensorboard's own reader, they hold what
metrics.jsonl holds, resume adds no duplicated steps, and --no-tensorboard writes none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from host_helpers import run_cli

from genzoo.training.runs import Run

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)

GAN = ["gan", "--toy", "grid25", "--set", "decoder_hidden=16", "--set", "disc_units=16",
       "--no-progress", "--log-every", "10"]


def _events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_scalars_equal_metrics_jsonl_and_checkpoints_carry_a_scatter(tmp_path):
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "40", "--checkpoint-every", "20",
                    "--out", str(run)]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    acc = _events(run)
    for key in ("loss_d", "loss_g"):
        events = acc.Scalars(f"train/{key}")
        assert [e.step for e in events] == [r["step"] for r in records]
        assert [e.value for e in events] == pytest.approx([r[key] for r in records], rel=1e-6)
    assert [e.step for e in acc.Images("samples/seed_0")] == [20, 40]


def test_resume_purges_the_interrupted_attempts_steps(tmp_path):
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "50", "--checkpoint-every", "30",
                    "--out", str(run)]) == 0
    # as if killed after logging steps 40 and 50 but before the final checkpoint
    for f in (run / "checkpoints").glob("step-00000050.*"):
        f.unlink()
    assert Run(run).checkpoint_steps() == [30]
    assert run_cli(["train", "--resume", str(run)]) == 0
    steps = [e.step for e in _events(run).Scalars("train/loss_d")]
    assert steps == [10, 20, 30, 40, 50]  # no step twice


def test_a_run_killed_before_its_first_checkpoint_resumes_without_twice_logged_steps(tmp_path):
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "20", "--checkpoint-every", "0",
                    "--out", str(run)]) == 0
    for f in (run / "checkpoints").glob("step-*"):  # as if killed before the final checkpoint
        f.unlink()
    assert run_cli(["train", "--resume", str(run)]) == 0  # starts again from step 0
    steps = [e.step for e in _events(run).Scalars("train/loss_d")]
    assert steps == [10, 20]


def test_evaluation_metrics_and_the_off_switch(tmp_path):
    run = tmp_path / "r"
    assert run_cli(["train", *GAN, "--steps", "20", "--out", str(run)]) == 0
    assert run_cli(["evaluate", str(run), "--metric", "mode-coverage"]) == 0
    tags = _events(run).Tags()["scalars"]
    assert "eval/mode-coverage/modes" in tags
    off = tmp_path / "off"
    assert run_cli(["train", *GAN, "--steps", "20", "--no-tensorboard", "--out", str(off)]) == 0
    assert not (off / "tensorboard").exists()
    assert run_cli(["evaluate", str(off), "--metric", "mode-coverage"]) == 0
    assert not (off / "tensorboard").exists()


def test_image_runs_log_their_sample_and_reconstruction_grids(tmp_path):
    run = tmp_path / "img"
    assert run_cli(["train", "vae", "--dataset", "digits", "--steps", "3", "--batch-size", "8",
                    "--set", "image_width=8", "--set", "z_dim=4", "--no-progress",
                    "--out", str(run)]) == 0
    images = _events(run).Tags()["images"]
    assert "samples/seed_0" in images and "reconstructions/seed_0" in images
