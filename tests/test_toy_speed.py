"""The toy step's fast paths compute what the plain computation computes: Fourier features with
a hand-written backward, the one-output Linear, BatchNorm with its ReLU fused, R1 into D's
weights only, D's front shared by both updates and the generator judging only the half it
moves; and the allocator setting the Trainer applies."""

from __future__ import annotations

import sys

import pytest
import torch
from model_cases import TINY, TINY_DEFAULTLIKE, TINY_PAPERLIKE, build, train

from genzoo.core.rng import ReplicaRNG
from genzoo.layers import BatchNorm, Linear, mlp
from genzoo.training import allocator
from genzoo_plugins.common.toy_nets import FourierFeatures


@pytest.mark.parametrize("extra", [0, 3])
def test_fourier_features_match_their_formula_to_second_order(extra: int) -> None:
    ff = FourierFeatures(ReplicaRNG([0, 1], "init"), 2, 5, 1.5).double()
    x = torch.randn(2, 7, 2 + extra, dtype=torch.float64, requires_grad=True)
    y = x[..., :2] @ ff.freqs
    ref = torch.cat([x[..., :2], y.sin(), y.cos(), x[..., 2:]], dim=-1)
    torch.testing.assert_close(ff(x), ref)
    assert torch.autograd.gradcheck(ff, (x,))
    assert torch.autograd.gradgradcheck(ff, (x,))  # R1 differentiates through the backward


def test_one_output_linear_matches_the_matrix_product_to_second_order() -> None:
    lin = Linear(ReplicaRNG([0, 1, 2], "init"), 6, 1).double()
    with torch.no_grad():
        lin.bias.normal_()
    x = torch.randn(3, 5, 6, dtype=torch.float64, requires_grad=True)
    params = [x, lin.weight, lin.bias]

    def with_grads(y: torch.Tensor) -> list[torch.Tensor]:
        (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        return [y, gx, *torch.autograd.grad(gx.square().sum(), params)]  # R1's double pass

    ours, ref = with_grads(lin(x)), with_grads(torch.baddbmm(lin.bias, x, lin.weight))
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b)


def test_batchnorm_with_its_relu_fused_matches_batchnorm_then_relu() -> None:
    x = torch.randn(3, 16, 5)
    fused, plain = BatchNorm(3, 5, relu=True), BatchNorm(3, 5)
    with torch.no_grad():
        for bn in (fused, plain):
            bn.weight.copy_(torch.linspace(0.5, 2, 15).view(3, 1, 5))
            bn.bias.copy_(torch.linspace(-1, 1, 15).view(3, 1, 5))
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = fused(xa), torch.relu(plain(xb))
    torch.testing.assert_close(ya, yb)
    g = torch.randn_like(ya)
    ga = torch.autograd.grad(ya, [xa, fused.weight, fused.bias], g)
    gb = torch.autograd.grad(yb, [xb, plain.weight, plain.bias], g)
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(fused.running_mean, plain.running_mean)
    torch.testing.assert_close(fused.running_var, plain.running_var)


def test_fused_relu_keeps_the_parameter_names_of_saved_runs() -> None:
    # [Linear, BN(+ReLU), slot, Linear, BN(+ReLU), slot, Linear]: checkpoints written before
    # the fusion load unchanged
    net = mlp(ReplicaRNG([0], "init"), [2, 4, 4, 2], batchnorm=True)
    assert sorted(net.state_dict()) == sorted([
        "0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "3.weight",
        "4.weight", "4.bias", "4.running_mean", "4.running_var", "6.weight", "6.bias"])
    x = torch.randn(1, 8, 2)
    assert (net[:2](x) >= 0).all()  # the BN slot applies the ReLU


def test_r1_reaches_d_weights_exactly_as_a_full_backward_does() -> None:
    model = build("ali", [0, 1], {**TINY_DEFAULTLIKE, "r1_gamma": 2.0, "r1_every": 1})
    game, disc = model.game, model.discriminator
    real = torch.randn(2, 8, 4)
    disc.zero_grad(set_to_none=True)
    game.index = 0
    game._r1(real)
    got = [p.grad for p in disc.parameters()]  # None where R1 does not reach (the logit's bias)
    disc.zero_grad(set_to_none=True)
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(disc(x).squeeze(-1).sum(), x, create_graph=True)
    (0.5 * 2.0 * grad.square().sum(-1).mean(1)).sum().backward()
    assert sum(g is not None for g in got) > 1
    for a, p in zip(got, disc.parameters(), strict=True):
        assert (a is None) == (p.grad is None)
        if a is not None:
            torch.testing.assert_close(a, p.grad)


def _plain(model):
    """The same model with the fast paths off: D whole on [real; fake] in every update."""
    for game in (getattr(model, "game", None), getattr(model, "encoder_game", None)):
        if game is not None:
            game.has_front, game.half_losses = False, False
    return model


@pytest.mark.parametrize("name", ["ali", "bigan", "gan", "gan-posthoc"])
@pytest.mark.parametrize("order", ["d_then_g", "g_then_d", "simultaneous"])
def test_shared_front_and_half_judging_train_like_the_plain_game(name: str,
                                                                  order: str) -> None:
    settings = {**TINY_DEFAULTLIKE, "update_order": order, "instance_noise": 0.0}
    fast, plain = build(name, [0, 1], settings), _plain(build(name, [0, 1], settings))
    train(fast, steps=6)
    train(plain, steps=6)
    for (key, a), (_, b) in zip(fast.state_dict().items(), plain.state_dict().items(),
                                strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=key)


def test_gan_generator_loss_is_its_samples_terms() -> None:
    model = build("gan", [0], {**TINY, "update_order": "d_then_g"})
    game = model.game
    real, fake = model.pairs(torch.randn(1, 8, 2))
    loss = game._g_backward(real, fake)
    with torch.no_grad():
        l_fake = model.discriminator(fake).squeeze(-1)
    torch.testing.assert_close(loss, torch.nn.functional.softplus(-l_fake).mean(1))
    assert all(p.grad is not None for p in model.decoder.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ["ali", "bigan"])
def test_shared_front_trains_like_the_plain_game_under_dropout(name: str) -> None:
    # both halves move, so both games draw the same dropout masks in the same order
    settings = {**TINY_PAPERLIKE, "disc_fourier": 4, "update_order": "d_then_g"}
    fast, plain = build(name, [0, 1], settings), _plain(build(name, [0, 1], settings))
    assert fast.game.has_front
    train(fast, steps=6)
    train(plain, steps=6)
    for (key, a), (_, b) in zip(fast.state_dict().items(), plain.state_dict().items(),
                                strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_trainer_keeps_freed_memory_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    assert allocator.keep_freed_memory() is True
    calls: list[bool] = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append(True) or True)
    train(build("gan", [0]), steps=1)
    assert calls == [True]
