"""BigBiGAN's unary scores (``unary_scores``): which networks each score trains, the game at
weight 0 being ALI's, the image heads, the conformance kit and the refusals."""

from __future__ import annotations

import pytest
import torch
from model_cases import TINY_DEFAULTLIKE, assert_trains_alike, build, train

from genzoo.core import plugins
from genzoo.core.errors import GenzooError
from genzoo.testing import MODEL_CHECKS, check_model
from genzoo_plugins.common.game import d_loss

# D with x and z branches (where the unary heads sit), one D step, no R1, no instance noise
BRANCHED = {**TINY_DEFAULTLIKE, "d_steps": 1, "r1_gamma": 0.0, "instance_noise": 0.0}
UNARY = {**BRANCHED, "unary_scores": True}


def _grads(model, loss: torch.Tensor) -> dict[str, bool]:
    """Which parts of the model get a non-zero gradient from ``loss``."""
    model.zero_grad(set_to_none=True)
    loss.backward()
    d = model.discriminator
    parts = {"encoder": model.encoder, "decoder": model.decoder, "branch_x": d.branch_x,
             "branch_z": d.branch_z, "joint head": d.head, "s_x head": d.unary[0],
             "s_z head": d.unary[1]}
    return {name: any(p.grad is not None and bool(p.grad.any()) for p in net.parameters())
            for name, net in parts.items()}


@pytest.mark.parametrize("head, side, reached", [
    # D's loss on each score trains that score's head and the branch(es) under it
    (0, "d", {"branch_x", "branch_z", "joint head"}),
    (1, "d", {"branch_x", "s_x head"}),
    (2, "d", {"branch_z", "s_z head"}),
    # the generator side's: s_x judges G_x(z) alone, s_z judges G_z(x) alone
    (0, "g", {"encoder", "decoder", "branch_x", "branch_z", "joint head"}),
    (1, "g", {"decoder", "branch_x", "s_x head"}),
    (2, "g", {"encoder", "branch_z", "s_z head"})])
def test_each_score_trains_the_networks_it_should(head: int, side: str,
                                                  reached: set[str]) -> None:
    model = build("ali", [0], UNARY)
    model.train()
    real, fake = model.pairs(torch.randn(1, 32, 2))
    if side == "d":
        real, fake = real.detach(), fake.detach()
    logits = model.discriminator(torch.cat([real, fake], dim=1))
    assert logits.shape == (1, 64, 3)
    l_real, l_fake = logits[:, :32, head], logits[:, 32:, head]
    loss = d_loss(l_real, l_fake) if side == "d" else -d_loss(l_real, l_fake)
    got = _grads(model, loss.sum())
    assert {name for name, hit in got.items() if hit} == reached


def test_at_weight_zero_the_game_is_alis() -> None:
    """The heads exist and see every pair, but with their weight at 0 the encoder, decoder
    and joint D train as ALI's, from the same initial weights (to float rounding: D's
    gradient reaches its joint head as a strided slice of the three scores', which sums
    its batch in another order)."""
    assert_trains_alike(BRANCHED, {**UNARY, "unary_weight": 0.0}, 6, "discriminator.unary.",
                        atol=1e-7)


def test_the_unary_terms_change_training_when_weighted() -> None:
    ali, unary = build("ali", [0], BRANCHED), build("ali", [0], UNARY)
    train(ali, 6)
    train(unary, 6)
    moved = [n for n, p in ali.state_dict().items()
             if n.startswith("encoder.") and not torch.equal(p, unary.state_dict()[n])]
    assert moved


@pytest.mark.parametrize("name", ["ali", "alice", "bigan"])
def test_unary_models_conform_on_images(name: str) -> None:
    digits = plugins.registry().dataset("digits")
    cls = plugins.registry().model(name)
    settings = {"image_width": 4, "z_dim": 4, "unary_scores": True}
    assert check_model(cls, digits, settings) == list(MODEL_CHECKS)


def test_image_d_gives_three_scores_and_guides_with_the_joint_one() -> None:
    digits = plugins.registry().dataset("digits")
    cls = plugins.registry().model("ali")
    config = cls.make_config(digits.spec, overrides={"image_width": 4, "z_dim": 4,
                                                     "unary_scores": True})
    model = cls(config, digits.spec, [0, 1])
    model.eval()
    x = torch.rand(2, 5, *digits.spec.x_shape)
    z = model.encode(x)
    pairs = torch.cat([x.flatten(2), z], dim=-1)
    with torch.no_grad():
        scores = model.discriminator(pairs)
        assert scores.shape == (2, 5, 3)
        samples, logits = model.sample_scored(5)
        assert samples.shape == (2, 5, *digits.spec.x_shape) and logits.shape == (2, 5)


def test_unary_scores_are_refused_where_they_do_not_apply() -> None:
    with pytest.raises(GenzooError, match="branches"):
        build("ali", [0], {**TINY_DEFAULTLIKE, "disc_x_layers": 0, "unary_scores": True})
    with pytest.raises(GenzooError, match="alternating"):
        build("ali", [0], {**UNARY, "update_order": "simultaneous"})
    digits = plugins.registry().dataset("digits")
    cls = plugins.registry().model("ali")
    config = cls.make_config(digits.spec, overrides={"image_width": 4, "z_dim": 4,
                                                     "labels": 100, "unary_scores": True})
    with pytest.raises(GenzooError, match="unconditional"):
        cls(config, digits.spec, [0])


def test_bigbigan_is_ali_with_unary_scores_on_points_and_images() -> None:
    registry = plugins.registry()
    cls = registry.model("bigbigan")
    grid = registry.dataset("grid25")
    assert check_model(cls, grid, {"decoder_hidden": 16, "encoder_hidden": 16,
                                   "disc_units": 8, "disc_branch_units": 8}) == \
        list(MODEL_CHECKS)
    config = cls.make_config(grid.spec)
    assert config.unary_scores and config.disc_x_layers and config.disc_z_layers
    assert config.encoder == "gaussian"
    digits = registry.dataset("digits")
    assert cls.make_config(digits.spec).unary_scores
    assert check_model(cls, digits, {"image_width": 4, "z_dim": 4}) == list(MODEL_CHECKS)
