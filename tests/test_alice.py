"""ALICE: the two conditional-entropy terms on tiny cases, and ALICE at λ = 0 being ALI."""

from __future__ import annotations

import math

import pytest
import torch
from model_cases import TINY, build, train

from genzoo.core.errors import GenzooError
from genzoo.core.model import Batch
from genzoo_plugins.alice.model import explicit_term

TINY_ALICE = {**TINY, "z_dim": 2}


def _batch(model, n: int = 32) -> Batch:
    g = torch.Generator().manual_seed(1)
    return Batch(torch.randn(model.replicas, n, 2, generator=g))


def test_explicit_term_gradient_reaches_encoder_and_decoder() -> None:
    model = build("alice", [0], {**TINY_ALICE, "lambda_x": 1.0, "lambda_z": 1.0})
    model.train()
    model.pairs(_batch(model).x)
    loss = model.cycle_loss()
    assert loss.shape == (1,) and float(loss.detach()) > 0
    loss.sum().backward()
    for net in (model.encoder, model.decoder):
        grads = [p.grad for p in net.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0
    # the term is the generator side's alone: D gets no gradient from it
    assert all(p.grad is None for p in model.discriminator.parameters())


def test_a_perfect_autoencoder_has_zero_explicit_loss() -> None:
    model = build("alice", [0], TINY_ALICE)
    model.train()
    model._enc = lambda x, rng, y: x.clone()  # G_z = identity (z_dim = x_dim = 2) ...
    model._dec = lambda z, y: z.clone()  # ... and G_x = identity: both cycles return exactly
    model.pairs(_batch(model).x)
    assert float(model.cycle_loss()) == 0.0
    model._dec = lambda z, y: z + 0.5  # a decoder that shifts by 0.5 in both coordinates
    model.pairs(_batch(model).x)
    # x-cycle: ||0.5, 0.5||^2 = 0.5 per example; z-cycle through the shifted x: 0.5 again
    assert float(model.cycle_loss()) == pytest.approx(1.0)


def test_explicit_term_is_the_batch_mean_of_squared_norms() -> None:
    a = torch.zeros(2, 3, 4)
    b = torch.ones(2, 3, 4)
    b[1] *= 2
    assert explicit_term(a, b).tolist() == [4.0, 16.0]


def _fit_cycle_d(model, a: torch.Tensor, b: torch.Tensor, steps: int = 300) -> float:
    """Trains D_xx on (a, a) against (a, b) and returns its final loss."""
    opt = torch.optim.Adam(model.cycle_d["xx"].parameters(), lr=1e-2)
    for _ in range(steps):
        loss = model.cycle_d_loss("xx", a, b).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return float(model.cycle_d_loss("xx", a, b).sum())


def test_adversarial_dxx_reaches_its_closed_form_optimum() -> None:
    """D* = p/(p + q): log 4 (D = 1/2 everywhere) when the reconstructions are the inputs
    themselves, and 0 when every reconstruction pair is told apart from (x, x)."""
    settings = {**TINY_ALICE, "conditional_entropy": "adversarial", "disc_units": 32,
                "dropout_in": 0.0, "dropout_hidden": 0.0, "r1_gamma": 0.0}
    x = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]).repeat(8, 1)[None]
    same = _fit_cycle_d(build("alice", [0], settings), x, x.clone())
    assert same == pytest.approx(math.log(4), abs=1e-3)
    apart = _fit_cycle_d(build("alice", [0], settings), x, -x)
    assert apart < 0.05


def test_adversarial_alice_trains_and_logs_its_discriminators() -> None:
    model = build("alice", [0, 1], {**TINY_ALICE, "conditional_entropy": "adversarial"})
    trainer = train(model, 3)
    metrics = model.train_step(trainer.draw(), 3, 4)
    for key in ("loss_d", "loss_g", "cycle_x", "cycle_z", "loss_dxx", "loss_dzz"):
        assert metrics[key].shape == (2,) and torch.isfinite(metrics[key]).all()
    assert "cycle_discriminators" in model.optimizers()


def test_alice_at_lambda_zero_is_ali() -> None:
    settings = {**TINY_ALICE, "lambda_x": 0.0, "lambda_z": 0.0}
    ali, alice = build("ali", [0], TINY_ALICE), build("alice", [0], settings)
    train(ali, 6)
    train(alice, 6)
    for (name, p), q in zip(ali.state_dict().items(), alice.state_dict().values(),
                            strict=True):
        assert torch.equal(p, q), name


def test_alice_refuses_conditional_and_negative_weights() -> None:
    with pytest.raises(GenzooError, match="unsupervised"):
        build("alice", [0], {**TINY_ALICE, "condition": "labels"})
    with pytest.raises(GenzooError, match=">= 0"):
        build("alice", [0], {**TINY_ALICE, "lambda_x": -1.0})
