"""gan-inverse and gan-posthoc: GAN first, then the encoder with the decoder frozen."""

from __future__ import annotations

import pytest
import torch
from model_cases import TINY_PAPERLIKE, build

from genzoo.data.toy import grid25
from genzoo.training.trainer import Trainer, TrainSettings


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> list[str]:
    return [k for k, v in module.state_dict().items() if not torch.equal(v, before[k])]


@pytest.mark.parametrize("name", ["gan-inverse", "gan-posthoc"])
def test_decoder_frozen_in_encoder_phase(name: str) -> None:
    # BatchNorm on, so "frozen" must cover the running statistics as well as the weights
    model = build(name, [0, 1], {**TINY_PAPERLIKE, "encoder_fraction": 0.5})
    data = grid25()
    trainer = Trainer(model, data, TrainSettings(steps=10, batch_size=32, log_every=1,
                                                 checkpoint_every=0))
    assert model.phase_start(10) == 5
    dec0, enc0 = snapshot(model.decoder), snapshot(model.encoder)
    trainer.settings.steps = 10
    model.train()
    for step in range(5):  # phase 1: the GAN trains, the encoder waits
        metrics = model.train_step(trainer.draw(), step, 10)
        assert "loss_g" in metrics
    assert changed(dec0, model.decoder)
    assert not changed(enc0, model.encoder)
    dec1, enc1 = snapshot(model.decoder), snapshot(model.encoder)
    for p in model.decoder.parameters():
        p.grad = None
    for step in range(5, 10):  # phase 2: only the encoder (and its discriminator) move
        metrics = model.train_step(trainer.draw(), step, 10)
        assert "loss_e" in metrics and torch.isfinite(metrics["loss_e"]).all()
    assert not changed(dec1, model.decoder)
    assert changed(enc1, model.encoder)
    assert all(p.grad is None for p in model.decoder.parameters())  # no gradient reached it


def test_inverse_encoder_learns_to_invert_the_decoder() -> None:
    # decoder_fourier 0: a random decoder on Fourier features of z is periodic in z, which no
    # encoder can invert; this test wants a random but (mostly) invertible map
    model = build("gan-inverse", [0], {"decoder_hidden": 32, "decoder_layers": 2,
                                        "encoder_hidden": 64, "encoder_layers": 2,
                                        "encoder": "deterministic", "batchnorm": False,
                                        "init_std": None, "lr": 3e-3, "encoder_fraction": 1.0,
                                        "decoder_fourier": 0})
    trainer = Trainer(model, grid25(), TrainSettings(steps=300, batch_size=64, log_every=300,
                                                     checkpoint_every=0))
    z = torch.randn(1, 4096, 2, generator=torch.Generator().manual_seed(0))

    def error() -> float:  # E|z - G_z(G_x(z))|^2 on fixed held-out z
        model.eval()
        with torch.no_grad():
            return (z - model.encode(model.decode(z))).square().sum(-1).mean().item()

    before = error()
    model.train()
    for step in range(300):  # all encoder phase: the (random, frozen) decoder is the target
        model.train_step(trainer.draw(), step, 300)
    after = error()
    assert after < 0.6 * before
    # a random ReLU decoder is not invertible everywhere, but the encoder must beat the best
    # affine map from x back to z, fitted on these very samples
    with torch.no_grad():
        x = model.decode(z)[0]
    xa = torch.cat([x, torch.ones(4096, 1)], dim=1)
    affine = (z[0] - xa @ torch.linalg.lstsq(xa, z[0]).solution).square().sum(-1).mean()
    assert after < affine.item()
