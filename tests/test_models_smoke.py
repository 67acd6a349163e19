"""Every bundled model trains a few steps at each preset without NaN, and its presets hold."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from model_cases import BUNDLED, model_class, train

from genzoo.core.rng import ReplicaRNG
from genzoo.data.toy import grid25, ring8
from genzoo_plugins.common.config import PAPER_DECODER, PAPER_DISCRIMINATOR


@pytest.mark.parametrize("preset", ["default", "paper"])
@pytest.mark.parametrize("name", BUNDLED)
def test_trains_without_nan(name: str, preset: str) -> None:
    cls = model_class(name)
    data = ring8() if preset == "paper" else grid25()
    config = cls.make_config(data.spec, preset, {"encoder_fraction": 0.5}
                             if "encoder_fraction" in {f.name for f in
                                                       dataclasses.fields(cls.Config)}
                             else {})
    model = cls(config, data.spec, [0, 1])
    trainer = train(model, steps=4, batch_size=16, data=data)
    assert trainer.step == 4
    for key, value in model.state_dict().items():
        assert torch.isfinite(value).all(), key
    rng = ReplicaRNG([0, 1], "eval")
    with torch.no_grad():
        x = model.sample(10, rng)
        assert x.shape == (2, 10, 2) and torch.isfinite(x).all()
        if model.can("encode"):
            z = model.encode(x, rng)
            assert z.shape == (2, 10, config.z_dim) and torch.isfinite(z).all()
            assert model.reconstruct(x, rng).shape == (2, 10, 2)


@pytest.mark.parametrize("name", BUNDLED)
def test_paper_preset_is_the_original_code(name: str) -> None:
    cls = model_class(name)
    c = cls.make_config(grid25().spec, "paper")
    assert (c.steps, c.batch_size, c.lr, c.beta1) == (200_000, 100, 1e-4, 0.8)
    for key, value in PAPER_DECODER.items():
        assert getattr(c, key) == value, key
    if hasattr(c, "disc_units"):
        for key, value in PAPER_DISCRIMINATOR.items():
            assert getattr(c, key) == value, key
        assert c.update_order == "simultaneous" and c.generator_loss == "nonsaturating"
    model = cls(c, grid25().spec, [0])
    # N(0, 0.02) weights, zero biases, BatchNorm in the generator side with no bias on the
    # Linear layers it follows (use_bias=False in the original code)
    w = model.decoder[0].weight
    assert abs(w.std().item() - 0.02) < 0.004 and model.decoder[0].bias is None
    assert not model.decoder[-1].bias.any()
    assert sum(type(m).__name__ == "BatchNorm" for m in model.decoder) == 4
    encoders = {"ali": "noise_input", "bigan": "deterministic", "gan-inverse": "noise_input",
                "gan-posthoc": "noise_input", "vae": "gaussian"}
    if name in encoders:
        assert c.encoder == encoders[name]
