"""Gradients of the game reach the encoder and decoder, through the reparameterized sample."""

from __future__ import annotations

import pytest
import torch
from model_cases import PACKED, TINY_DEFAULTLIKE, build

from genzoo_plugins.common.game import d_loss, g_loss


@pytest.mark.parametrize("loss", ["nonsaturating", "saturating"])
def test_generator_loss_reaches_encoder_and_decoder(loss: str) -> None:
    model = build("ali", [0, 1], {**TINY_DEFAULTLIKE, "generator_loss": loss})
    x = torch.randn(2, 32, 2)
    real, fake = model.pairs(x)
    logits = model.discriminator(torch.cat([real, fake], dim=1)).squeeze(-1)
    g_loss(logits[:, :32], logits[:, 32:], loss).sum().backward()
    for name, p in [*model.encoder.named_parameters(), *model.decoder.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # the encoder's last layer outputs (mu, log sigma): both halves get a gradient, the
    # log-sigma half only through z = mu + exp(log sigma) * eps
    last = [m for m in model.encoder.net if hasattr(m, "weight")][-1]
    z_dim = model.config.z_dim
    assert last.weight.grad[..., :z_dim].abs().sum() > 0
    assert last.weight.grad[..., z_dim:].abs().sum() > 0


def test_log_sigma_gradient_is_the_reparameterization() -> None:
    """d loss / d log sigma = (d loss / d z) * sigma * eps, the chain rule through Eq. 2."""
    model = build("ali", [0], TINY_DEFAULTLIKE)
    x = torch.randn(1, 16, 2)
    mu, log_sigma = model.encoder.posterior(x)
    mu.retain_grad()
    log_sigma.retain_grad()
    state = model.noise.get_state()
    eps = model.noise.randn(*mu.shape[1:])
    model.noise.set_state(state)
    z = torch.addcmul(mu, log_sigma.exp(), eps)
    z.retain_grad()
    target = torch.randn_like(z)
    ((z - target) ** 2).sum().backward()
    assert torch.allclose(log_sigma.grad, z.grad * log_sigma.exp() * eps, atol=1e-6)
    # and the encoder draws exactly this eps from the model's noise stream
    model.noise.set_state(state)
    with torch.no_grad():
        assert torch.allclose(model.encoder(x, model.noise), z.detach())


# D's pairs per logit, settings: one pair (with dropout, whose masks must repeat), or PacGAN
# groups of 4 (one logit per group: each member takes its group's slope)
SIMULTANEOUS = {
    "plain": (1, {**TINY_DEFAULTLIKE, "dropout_in": 0.2}),
    "packed": (4, PACKED),
}


@pytest.mark.parametrize("variant", SIMULTANEOUS)
@pytest.mark.parametrize("loss", ["nonsaturating", "saturating"])
def test_simultaneous_step_equals_two_backward_passes(loss: str, variant: str) -> None:
    """The one-backward simultaneous update gives D and G the gradients of their own losses."""
    pack, settings = SIMULTANEOUS[variant]
    model = build("ali", [0, 1], {**settings, "generator_loss": loss, "r1_gamma": 0.0,
                                   "d_steps": 1, "instance_noise": 0.0,
                                   "update_order": "simultaneous"})
    x = torch.randn(2, 32, 2)
    g_params = [*model.encoder.parameters(), *model.decoder.parameters()]
    d_params = list(model.discriminator.parameters())
    state = model.noise.get_state()
    real, fake = model.pairs(x)
    logits = model.discriminator(torch.cat([real, fake], dim=1)).squeeze(-1)
    b = 32 // pack
    assert logits.shape == (2, 2 * b)
    lr_, lf = logits[:, :b], logits[:, b:]
    ref_g = torch.autograd.grad(g_loss(lr_, lf, loss).sum(), g_params, retain_graph=True)
    ref_d = torch.autograd.grad(d_loss(lr_, lf).sum(), d_params)

    model.noise.set_state(state)  # same eps, z and dropout masks as above
    model.opt_d.step = model.opt_g.step = lambda *a, **k: None  # keep the gradients only
    model.game.step(model.pairs, x, 0, 0.0)
    for ref, p in zip(ref_g, g_params, strict=True):
        assert p.grad is not None and torch.allclose(ref, p.grad, rtol=1e-4, atol=1e-7)
    d_tol = {"rtol": 1e-5, "atol": 1e-8} if pack == 1 else {"rtol": 1e-4, "atol": 1e-7}
    for ref, p in zip(ref_d, d_params, strict=True):
        assert p.grad is not None and torch.allclose(ref, p.grad, **d_tol)


@pytest.mark.parametrize("order", ["d_then_g", "g_then_d"])
def test_alternating_orders_update_both_sides(order: str) -> None:
    model = build("ali", [0], {**TINY_DEFAULTLIKE, "update_order": order})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = model.game.step(model.pairs, torch.randn(1, 32, 2), 0, 0.0)
    assert set(out) == {"loss_d", "loss_g"}
    moved = {k.split(".")[0] for k, v in model.state_dict().items()
             if not torch.equal(v, before[k])}
    assert {"encoder", "decoder", "discriminator"} <= moved
