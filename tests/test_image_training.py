"""Every bundled model trains on images: conformance on digits, replicas, per-epoch grids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from model_cases import BUNDLED
from torchvision.io import read_image

from genzoo.cli import main
from genzoo.core import plugins
from genzoo.core.rng import ReplicaRNG
from genzoo.testing import MODEL_CHECKS, check_model
from genzoo.training.trainer import Trainer, TrainSettings

# tiny networks on 8×8 digits, with dropout and BatchNorm in D so that their noise and
# statistics go through every check (resume, seeds trained together, save and reload)
TINY = {"image_width": 4, "z_dim": 4, "dropout_in": 0.2, "dropout_hidden": 0.2,
        "encoder_fraction": 0.5}


def fitted(cls: type, overrides: dict) -> dict:
    names = {f.name for f in cls.Config.__dataclass_fields__.values()}
    return {k: v for k, v in overrides.items() if k in names}


@pytest.fixture(scope="module")
def digits():
    return plugins.registry().dataset("digits")


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_conforms_on_images(name: str, digits) -> None:
    cls = plugins.registry().model(name)
    assert check_model(cls, digits, fitted(cls, TINY)) == list(MODEL_CHECKS)


def test_image_replica_equals_single_seed_run(digits) -> None:
    cls = plugins.registry().model("ali")
    config = cls.make_config(digits.spec, overrides=fitted(cls, TINY))

    def trained(seeds: list[int]):
        model = cls(config, digits.spec, seeds)
        Trainer(model, digits, TrainSettings(steps=3, batch_size=16, log_every=1,
                                             checkpoint_every=0)).fit()
        return model

    together, alone = trained([0, 1]), trained([1])
    a, b = together.state_dict(), alone.state_dict()
    mine = {k.replace(".nets.1.", ".nets.0."): v for k, v in a.items() if ".nets.1." in k}
    assert mine.keys() == b.keys()
    for key, value in b.items():
        assert torch.allclose(mine[key], value, rtol=1e-5, atol=1e-6), key
    assert not torch.equal(a["decoder.nets.0.trunk.blocks.0.conv.weight"],
                           a["decoder.nets.1.trunk.blocks.0.conv.weight"])
    with torch.no_grad():
        xs = together.sample(8, ReplicaRNG([0, 1], "eval"))
        x1 = alone.sample(8, ReplicaRNG([1], "eval"))
    assert xs.shape == (2, 8, 1, 8, 8)
    assert torch.allclose(xs[1], x1[0], atol=1e-5)


def test_snapshots_leave_training_untouched(tmp_path: Path, digits) -> None:
    """A run writing per-epoch grids ends in exactly the state of one that writes none."""
    from genzoo.training.runs import Run

    cls = plugins.registry().model("ali")
    config = cls.make_config(digits.spec, overrides=fitted(cls, TINY))
    settings = dict(steps=4, batch_size=480, log_every=2, checkpoint_every=0)
    run = Run.create(tmp_path / "run", {"model": "ali"})
    with_grids = Trainer(cls(config, digits.spec, [3]), digits, TrainSettings(**settings),
                         run=run)
    with_grids.fit()
    plain = Trainer(cls(config, digits.spec, [3]), digits, TrainSettings(**settings))
    plain.fit()
    # 1,437 training digits at batch 480: epochs end at step 3, and the run at 4
    assert sorted(p.name for p in (run.path / "samples").iterdir()) == [
        "epoch_001.png", "epoch_002.png"]
    a, _ = with_grids.state()
    b, _ = plain.state()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_cli_train_writes_sample_and_reconstruction_grids(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["train", "ali", "--dataset", "digits", "--steps", "16", "--batch-size", "100",
              "--out", str(out), "--no-progress", "--set", "image_width=4",
              "--set", "z_dim=4"])
    assert exc.value.code == 0
    samples = sorted(p.name for p in (out / "samples").iterdir())
    recs = sorted(p.name for p in (out / "reconstructions").iterdir())
    assert samples == recs == ["epoch_001.png", "epoch_002.png"]
    # 64 samples in an 8 × 8 grid of 8×8 digits, 2 pixels apart
    assert tuple(read_image(str(out / "samples" / "epoch_001.png")).shape[1:]) == (82, 82)
    # 50 pairs, 10 a row: 5 rows of 20 images (odd columns originals, even reconstructions)
    grid = read_image(str(out / "reconstructions" / "epoch_002.png"))
    assert tuple(grid.shape[1:]) == (5 * 8 + 6 * 2, 20 * 8 + 21 * 2)


def test_cli_trains_table4_ali_on_svhn_format_files(tmp_path: Path, monkeypatch) -> None:
    """`genzoo train ali --dataset svhn --data-dir D`: the Table 4 preset on .mat files."""
    from test_datasets_images import write_svhn

    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    write_svhn(tmp_path / "svhn", {"train": 12, "test": 5})
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["train", "ali", "--dataset", "svhn", "--data-dir", str(tmp_path), "--no-verify",
              "--steps", "2", "--batch-size", "6", "--out", str(out), "--no-progress"])
    assert exc.value.code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model_config"]["image_net"] == "svhn"  # Table 4
    assert config["model_config"]["z_dim"] == 256
    assert (out / "samples" / "epoch_001.png").exists()
    assert (out / "reconstructions" / "epoch_001.png").exists()
    assert [json.loads(line)["step"] for line in
            (out / "metrics.jsonl").read_text().splitlines()] == [2]


def test_image_runs_checkpoint_every_epoch(tmp_path: Path, digits) -> None:
    """digits has 1,438 training images: an epoch is 15 steps of 100; checkpoints land at each
    epoch's end as well as every --checkpoint-every steps, and 0 keeps the final one only."""
    from genzoo.training.runs import Run

    def checkpoint_steps(out: Path, every: int) -> list[int]:
        with pytest.raises(SystemExit) as exc:
            main(["train", "gan", "--dataset", "digits", "--steps", "32", "--batch-size", "100",
                  "--checkpoint-every", str(every), "--out", str(out), "--no-progress",
                  "--set", "image_width=4", "--set", "z_dim=4"])
        assert exc.value.code == 0
        return sorted(int(p.stem.split("-")[1]) for p in (out / "checkpoints").glob("*.json"))

    assert digits.size("train") == 1438
    # the two newest are kept (keep_checkpoints): epoch 2's end (30) and the last step
    assert checkpoint_steps(tmp_path / "b", 1000) == [30, 32]
    assert checkpoint_steps(tmp_path / "c", 0) == [32]
    assert Run.open(tmp_path / "b").load_checkpoint().step == 32
