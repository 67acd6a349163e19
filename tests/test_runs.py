"""Run directories: atomic writes, complete-only checkpoints, corruption, pruning, metrics."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch
from safetensors.torch import load_file

from genzoo.core.errors import GenzooError
from genzoo.training.runs import Run, atomic_write_json


def tensors(value: float) -> dict[str, torch.Tensor]:
    return {"model/w": torch.full((3, 2), value), "rng/noise": torch.arange(4, dtype=torch.uint8)}


def make_run(tmp_path, name="run") -> Run:
    return Run.create(tmp_path / name, {"model": "m", "dataset": "d", "seeds": [0], "train": {}})


def test_create_refuses_an_existing_run_and_open_refuses_what_is_not_one(tmp_path):
    run = make_run(tmp_path)
    assert Run.open(run.path).config["model"] == "m"
    with pytest.raises(GenzooError, match="is in use by genzoo process"):
        make_run(tmp_path)  # `run` holds the directory's lock
    run.lock.release()
    again = make_run(tmp_path)  # no checkpoint yet: the dead attempt is started again
    assert again.restarted
    again.save_checkpoint(1, tensors(1.0), {"seconds": 0.0, "optimizers": {}})
    again.lock.release()
    with pytest.raises(GenzooError, match="already holds a run; pass --resume"):
        make_run(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenzooError, match="is not a genzoo run"):
        Run.open(tmp_path / "empty")
    with pytest.raises(GenzooError, match="does not exist"):
        Run.open(tmp_path / "nowhere")


def test_checkpoints_round_trip_through_safetensors_and_a_json_sidecar(tmp_path):
    run = make_run(tmp_path)
    path = run.save_checkpoint(10, tensors(1.5), {"seconds": 2.0, "optimizers": {}})
    assert path.name == "step-00000010.safetensors"
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["step"] == 10 and sidecar["seconds"] == 2.0 and len(sidecar["sha256"]) == 64
    ckpt = run.load_checkpoint()
    assert ckpt.step == 10 and ckpt.meta["seconds"] == 2.0
    assert torch.equal(ckpt.tensors["model/w"], tensors(1.5)["model/w"])
    assert torch.equal(load_file(path)["rng/noise"], tensors(0)["rng/noise"])


def test_files_get_the_mode_open_would_give_not_mkstemps_owner_only(tmp_path):
    run = make_run(tmp_path)
    run.save_checkpoint(1, tensors(0), {})
    umask = os.umask(0)
    os.umask(umask)
    want = 0o666 & ~umask
    for p in [run.path / "config.json", *run.checkpoint_dir.iterdir()]:
        assert stat.S_IMODE(p.stat().st_mode) == want, p


def test_only_checkpoints_with_a_sidecar_count_and_stray_temp_files_are_ignored(tmp_path):
    run = make_run(tmp_path)
    run.save_checkpoint(5, tensors(5), {})
    # what a kill leaves behind: a half-written temp file, and tensors whose sidecar never came
    (run.checkpoint_dir / ".step-00000010.safetensors.abc.tmp").write_bytes(b"\0" * 7)
    (run.checkpoint_dir / "step-00000010.safetensors").write_bytes(b"partial")
    assert run.checkpoint_steps() == [5]
    assert run.load_checkpoint().tensors["model/w"][0, 0] == 5
    run.save_checkpoint(10, tensors(10), {})  # the next save replaces both and prunes strays
    assert run.load_checkpoint().tensors["model/w"][0, 0] == 10
    assert not list(run.checkpoint_dir.glob("*.tmp"))


def test_pruning_keeps_the_newest(tmp_path):
    run = make_run(tmp_path)
    for step in (1, 2, 3, 4):
        run.save_checkpoint(step, tensors(step), {}, keep=2)
    assert run.checkpoint_steps() == [3, 4]
    assert sorted(p.name for p in run.checkpoint_dir.iterdir()) == [
        "step-00000003.json", "step-00000003.safetensors",
        "step-00000004.json", "step-00000004.safetensors"]
    run.save_checkpoint(5, tensors(5), {}, keep=0)  # 0 keeps everything
    assert run.checkpoint_steps() == [3, 4, 5]


@pytest.mark.parametrize(("damage", "words"), [
    ("flip", r"corrupt \(checksum mismatch\)"),
    ("sidecar", "sidecar .* is corrupt"),
    ("missing", "is missing"),
])
def test_a_damaged_checkpoint_is_one_clear_error(tmp_path, damage, words):
    run = make_run(tmp_path)
    run.save_checkpoint(2, tensors(2), {})
    path = run.save_checkpoint(3, tensors(3), {})
    if damage == "flip":
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "sidecar":
        path.with_suffix(".json").write_text("{not json")
    else:
        path.unlink()
    with pytest.raises(GenzooError, match=words) as err:
        run.load_checkpoint()
    # the way back names the intact earlier checkpoint
    assert "move both files of step 3 out of checkpoints/ to fall back to the previous " \
        "checkpoint (step 2, intact)" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_sidecar_without_checksum_or_with_another_step_is_refused(tmp_path):
    run = make_run(tmp_path)
    path = run.save_checkpoint(3, tensors(3), {})
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    atomic_write_json(sidecar, {**meta, "step": 7})
    with pytest.raises(GenzooError, match="says step 7, its name step 3"):
        run.load_checkpoint()
    del meta["sha256"]  # verification is never switched off by a missing digest
    atomic_write_json(sidecar, meta)
    with pytest.raises(GenzooError, match="has no sha256 of its tensors"):
        run.load_checkpoint()
    atomic_write_json(sidecar, [1, 2])  # a sidecar that is a JSON list
    with pytest.raises(GenzooError, match="holds a JSON list, not a checkpoint"):
        run.load_checkpoint()


def test_non_finite_metrics_are_logged_as_null(tmp_path):
    run = make_run(tmp_path)
    run.log_metrics({"step": 1, "loss": float("nan"), "per_seed": {"loss": [1.0, float("inf")]}})
    line = (run.path / "metrics.jsonl").read_text()
    assert json.loads(line) == {"step": 1, "loss": None, "per_seed": {"loss": [1.0, None]}}


def test_no_checkpoint_yet_and_unknown_step(tmp_path):
    run = make_run(tmp_path)
    with pytest.raises(GenzooError, match="has no checkpoint yet"):
        run.load_checkpoint()
    run.save_checkpoint(4, tensors(4), {})
    with pytest.raises(GenzooError, match=r"no checkpoint at step 9 \(available: 4\)"):
        run.load_checkpoint(9)


def test_metrics_skip_a_line_cut_by_a_kill_and_truncate_drops_later_steps(tmp_path):
    run = make_run(tmp_path)
    for step in (1, 2, 3):
        run.log_metrics({"step": step, "loss": float(step)})
    with open(run.path / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "lo')  # killed mid-line
    assert [r["step"] for r in run.metrics()] == [1, 2, 3]
    run.truncate_metrics(2)
    assert [r["step"] for r in run.metrics()] == [1, 2]
    run.log_metrics({"step": 3, "loss": 9.0})
    lines = (run.path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3]


def test_an_unreadable_config_is_one_clear_error(tmp_path):
    run = make_run(tmp_path)
    (run.path / "config.json").write_text("{")
    with pytest.raises(GenzooError, match="config.json is unreadable"):
        run.config  # noqa: B018 - the property reads the file
