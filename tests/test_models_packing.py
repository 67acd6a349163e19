"""PacGAN packing of D's inputs and Fourier features of z in the decoder (the packed
simultaneous update's gradients: test_models_gradients.py)."""

from __future__ import annotations

import pytest
import torch
from model_cases import PACKED, build, train

from genzoo.core.errors import GenzooError
from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common import toy_nets


def test_pack_groups_consecutive_samples() -> None:
    x = torch.arange(2 * 6 * 3, dtype=torch.float32).view(2, 6, 3)
    packed = toy_nets.Pack(2)(x)
    assert packed.shape == (2, 3, 6)
    for r in range(2):
        for g in range(3):
            assert torch.equal(packed[r, g], torch.cat([x[r, 2 * g], x[r, 2 * g + 1]]))
    with pytest.raises(GenzooError, match="multiple of 4"):
        toy_nets.Pack(4)(x)


@pytest.mark.parametrize("name", ["ali", "gan"])
def test_packed_discriminator_judges_each_group_alone(name: str) -> None:
    """One logit per group of pack consecutive inputs; a change inside one group moves that
    group's logit only, so real groups never see fake samples (the halves are multiples)."""
    model = build(name, [0, 1], {**PACKED, "disc_x_layers": 0, "disc_z_layers": 0})
    width = 4 if name == "ali" else 2
    x = torch.randn(2, 16, width)
    with torch.no_grad():
        base = model.discriminator(x).squeeze(-1)
        assert base.shape == (2, 4)
        y = x.clone()
        y[:, 5] += 1.0  # sample 5 is in group 1 (samples 4..7)
        moved = (model.discriminator(y).squeeze(-1) - base).abs() > 0
    assert moved[:, 1].all() and not moved[:, [0, 2, 3]].any()


@pytest.mark.parametrize("name", ["ali", "gan", "gan-posthoc"])
def test_packed_replica_equals_single_seed_run(name: str) -> None:
    overrides = {**PACKED, "encoder_fraction": 0.5}
    together = build(name, [0, 1, 2], overrides)
    alone = build(name, [2], overrides)
    train(together, steps=6)
    train(alone, steps=6)
    a, b = together.state_dict(), alone.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key][2], b[key][0], rtol=1e-4, atol=1e-5), key
    with torch.no_grad():
        xs = together.sample(64, ReplicaRNG([0, 1, 2], "eval"))
        x1 = alone.sample(64, ReplicaRNG([2], "eval"))
    assert torch.allclose(xs[2], x1[0], rtol=1e-4, atol=1e-4)


def test_decoder_fourier_features_of_z() -> None:
    model = build("gan", [0], PACKED)
    ff = model.decoder[0]
    assert isinstance(ff, toy_nets.FourierFeatures) and ff.freqs.shape == (1, 2, 4)
    z = torch.randn(1, 5, 2)
    y = z @ ff.freqs
    assert torch.allclose(ff(z), torch.cat([z, y.sin(), y.cos()], dim=-1))
    assert model.decoder[1].weight.shape == (1, 2 + 2 * 4, 16)


def test_packing_needs_a_multiple_per_d_update() -> None:
    model = build("gan", [0], {**PACKED, "d_steps": 1})
    with pytest.raises(GenzooError, match="disc_pack=4"):
        model.game.step(model.pairs, torch.randn(1, 30, 2), 0, 0.0)
