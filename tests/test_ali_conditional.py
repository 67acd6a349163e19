"""Conditional ALI (§4.4, Eq. 7): y reaches G_x, G_z and D; attribute sampling from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from host_helpers import set_args
from test_datasets_images import ATTRS, write_celeba
from torchvision.io import read_image

from genzoo import api
from genzoo.cli import main
from genzoo.core import conditions, plugins
from genzoo.core.errors import GenzooError
from genzoo.core.rng import ReplicaRNG
from genzoo.data import files
from genzoo_plugins.common import conditioning

TINY = {"image_width": 4, "z_dim": 4, "condition": "labels"}


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(files.ENV_CACHE, str(tmp_path / "home-cache"))
    monkeypatch.delenv(files.ENV_DATA, raising=False)
    monkeypatch.delenv("GENZOO_DEBUG", raising=False)


@pytest.fixture(scope="module")
def digits():
    return plugins.registry().dataset("digits")


def cli(capsys, *args: str | Path) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_y_changes_the_decoder_encoder_and_discriminator(digits) -> None:
    model = api.build_model(plugins.registry(), "ali", digits, overrides=TINY, seeds=[0, 1])
    model.eval()
    z = torch.randn(2, 3, 4)
    with torch.no_grad():
        one, two = model.decode(z, y=torch.tensor([1, 1, 1])), model.decode(z, y=[2, 2, 2])
        assert one.shape == (2, 3, 1, 8, 8)
        assert (one - two).abs().max() > 1e-4
        assert torch.equal(one, model.decode(z, y=torch.ones(2, 3, dtype=torch.long)))
        x = torch.rand(2, 3, 1, 8, 8)
        mu1 = model.encoder.posterior(x, conditioning.vector(torch.ones(2, 3), "labels", 10))[0]
        mu2 = model.encoder.posterior(x, conditioning.vector(torch.zeros(2, 3), "labels", 10))[0]
        assert (mu1 - mu2).abs().max() > 1e-5
        real, _ = model.pairs(x, conditioning.vector(torch.ones(2, 3), "labels", 10))
        assert real.shape == (2, 3, 64 + 4 + 10)
        flipped = real.clone()
        flipped[..., -10:] = conditioning.vector(torch.zeros(2, 3), "labels", 10)
        assert (model.discriminator(real) - model.discriminator(flipped)).abs().max() > 1e-6
    with pytest.raises(GenzooError, match="class labels must be in 0..9"):
        model.decode(z, y=torch.full((3,), 10))
    plain = api.build_model(plugins.registry(), "ali", digits,
                            overrides={"image_width": 4, "z_dim": 4})
    with pytest.raises(TypeError, match="'y'"):  # an unconditional model takes no y
        plain.sample(2, y=torch.tensor([1, 2]))


def test_y_defaults_to_the_training_marginal(digits) -> None:
    marginal = conditioning.Marginal(1, 3, "labels")
    g = [torch.Generator().manual_seed(0)]
    assert torch.allclose(marginal.probs(), torch.full((1, 3), 1 / 3))  # untrained: uniform
    marginal.update(conditioning.vector(torch.tensor([[2, 2, 2, 0]]), "labels", 3))
    assert torch.allclose(marginal.probs(), torch.tensor([[0.25, 0.0, 0.75]]))
    drawn = marginal.draw(4000, g)[0].argmax(-1)
    assert (drawn != 1).all() and abs((drawn == 2).float().mean().item() - 0.75) < 0.03
    attrs = conditioning.Marginal(1, 2, "attributes")
    assert attrs.draw(5, g).sum() == 0  # untrained: every attribute off
    attrs.update(torch.tensor([[[1.0, 0.0], [1.0, 1.0]]]))
    assert torch.allclose(attrs.mean(2), torch.tensor([[[1.0, 0.5], [1.0, 0.5]]]))


def test_attribute_names_match_case_insensitively_with_close_matches() -> None:
    y = conditions.attribute_vector("male, SMILING", ATTRS)
    assert y.tolist() == [0] * 38 + [1, 1]
    assert conditions.attribute_vector("", ATTRS).sum() == 0
    with pytest.raises(GenzooError, match=r"unknown attribute 'smilling'; did you mean Smiling"):
        conditions.attribute_vector("male,smilling", ATTRS)
    names = ["Attractive", "Bald", "Bangs", "Black_Hair", "Blond_Hair", "Brown_Hair",
             "Eyeglasses", "Male", "Mouth_Slightly_Open", "Receding_Hairline", "Smiling",
             "Wavy_Hair", "Wearing_Hat", "Young"]
    grid = conditions.grid_attributes(conditions.FIGURE7_ROWS, conditions.FIGURE7_COLS, names)
    assert grid.shape == (4 * 12, 14)
    on = [names[i] for i in torch.nonzero(grid[1]).flatten()]  # row I, column (b)
    assert on == ["Attractive", "Black_Hair", "Male", "Young"]
    assert grid[12:24, names.index("Young")].sum() == 0  # row II: older


def test_cli_conditional_celeba_trains_samples_and_draws_figure7(tmp_path: Path,
                                                                 capsys) -> None:
    write_celeba(tmp_path / "celeba", n=6)
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", "ali", "--dataset", "celeba", "--data-dir", tmp_path,
                       "--no-verify", "--condition", "attributes", "--steps", "2",
                       "--batch-size", "4", "--out", run, "--no-progress",
                       *set_args({"image_net": "dcgan", "image_width": 4, "z_dim": 4}))
    assert code == 0, err
    code, out, err = cli(capsys, "sample", run, "--attrs", "male,smiling", "-n", "3",
                         "-o", tmp_path / "s.npy")
    assert code == 0, err
    import numpy as np
    assert np.load(tmp_path / "s.npy").shape == (3, 3, 64, 64)
    code, _, err = cli(capsys, "sample", run, "--attrs", "male,smilling", "-o", tmp_path / "x.png")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Smiling" in err
    code, out, err = cli(capsys, "sample", run, "--figure7", "--rows", "male;", "--cols",
                         ";smiling;male,smiling", "-o", tmp_path / "f7.png")
    assert code == 0, err
    img = read_image(str(tmp_path / "f7.png"))
    assert img.shape[1] < img.shape[2]  # 2 rows by 3 columns of 64×64
    code, _, err = cli(capsys, "sample", run, "--label", "1", "-o", tmp_path / "y.png")
    assert code == 2 and "--condition labels" in err


def test_class_conditional_samples_follow_the_label(digits, tmp_path: Path, capsys) -> None:
    reg = plugins.registry()
    from genzoo.training.trainer import TrainSettings
    session = api.start(reg, "ali", "digits", out=tmp_path / "run", overrides=TINY,
                        device="cpu", dataset=digits,
                        settings=TrainSettings(steps=2, batch_size=8))
    session.trainer.fit()
    model = session.model
    assert model.marginal.seen.item() == 16
    with torch.no_grad():
        a = model.sample(4, ReplicaRNG([0], "eval"), y=torch.full((4,), 3))
        b = model.sample(4, ReplicaRNG([0], "eval"), y=torch.full((4,), 3))
        c = model.sample(4, ReplicaRNG([0], "eval"), y=torch.full((4,), 7))
        d = model.sample(4, ReplicaRNG([0], "eval"))  # y from the marginal
    assert torch.equal(a, b) and not torch.equal(a, c) and d.shape == a.shape
    code, _, err = cli(capsys, "sample", tmp_path / "run", "--label", "3", "-n", "4",
                       "-o", tmp_path / "threes.npy")
    assert code == 0, err
    import numpy as np
    assert np.allclose(np.load(tmp_path / "threes.npy"), a[0].numpy(), atol=1e-6)
    code, _, err = cli(capsys, "sample", tmp_path / "run", "--label", "10", "-o",
                       tmp_path / "x.png")
    assert code == 2 and "--label must be in 0..9" in err
    code, _, err = cli(capsys, "sample", tmp_path / "run", "--attrs", "male", "-o",
                       tmp_path / "x.png")
    assert code == 2 and "--condition attributes" in err
