"""The game's losses against the paper's closed forms (Eq. 1, Eq. 4, Prop. 1 of GAN/ALI)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon

from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common import toy_nets
from genzoo_plugins.common.config import GameFields, JointDiscriminatorFields
from genzoo_plugins.common.game import Game, d_loss, g_loss

# Two joint distributions over four (x, z) points, in tenths so that a batch of 10k samples
# holds them exactly; both have full support, so D* is finite everywhere.
POINTS = torch.tensor([[-1.0, -1.0, 0.5, 0.5], [-1.0, 1.0, -0.5, 0.5],
                       [1.0, -1.0, 0.5, -0.5], [1.0, 1.0, -0.5, -0.5]])
Q = np.array([0.4, 0.3, 0.2, 0.1])
P = np.array([0.1, 0.2, 0.3, 0.4])


def exact_batch(probs: np.ndarray, k: int) -> torch.Tensor:
    """Indices of POINTS repeated in the exact proportions ``probs`` (10k samples)."""
    counts = (probs * 10 * k).round().astype(int)
    return torch.repeat_interleave(torch.arange(4), torch.from_numpy(counts))


def jsd(q: np.ndarray, p: np.ndarray) -> float:
    return float(jensenshannon(q, p) ** 2)  # scipy gives the distance, sqrt of the divergence


def optimal_logits(idx: torch.Tensor) -> torch.Tensor:
    """log D*/(1 - D*) = log q/p, with D* = q/(q+p) the optimal discriminator."""
    return torch.from_numpy(np.log(Q) - np.log(P)).float()[idx]


def test_optimal_discriminator_loss_is_log4_minus_2jsd() -> None:
    idx_q, idx_p = exact_batch(Q, 1), exact_batch(P, 1)
    l_real, l_fake = optimal_logits(idx_q)[None], optimal_logits(idx_p)[None]
    expected = math.log(4) - 2 * jsd(Q, P)
    assert 0 < expected < math.log(4)  # the pair is neither equal nor disjoint
    assert d_loss(l_real, l_fake).item() == pytest.approx(expected, abs=1e-6)
    # the saturating generator minimises Eq. 1 itself: at D* its loss is minus the D loss
    assert g_loss(l_real, l_fake, "saturating").item() == pytest.approx(-expected, abs=1e-6)


def test_nonsaturating_loss_at_the_optimum() -> None:
    # Eq. 4 at D*: E_q[-log(1 - D*)] + E_p[-log D*]
    idx_q, idx_p = exact_batch(Q, 1), exact_batch(P, 1)
    d_star = Q / (Q + P)
    expected = float(np.sum(Q * -np.log(1 - d_star)) + np.sum(P * -np.log(d_star)))
    got = g_loss(optimal_logits(idx_q)[None], optimal_logits(idx_p)[None], "nonsaturating")
    assert got.item() == pytest.approx(expected, rel=1e-4)


def test_equal_distributions_give_log4_and_half() -> None:
    logits = torch.zeros(3, 5)  # D = 1/2 everywhere: optimal when q = p
    assert torch.allclose(d_loss(logits, logits), torch.full((3,), math.log(4)))


def test_trained_joint_discriminator_reaches_log4_minus_2jsd() -> None:
    """ALI's real discriminator network and game, G frozen: the D loss falls to the bound."""
    c = JointDiscriminatorFields(disc_units=32, disc_layers=2, disc_activation="leaky_relu",
                                 dropout_in=0.0, dropout_hidden=0.0)
    rng = ReplicaRNG([0, 1], "init")
    disc = toy_nets.JointDiscriminator(rng, c, 2, 2, None, ReplicaRNG([0, 1], "noise"))
    # two D updates per step; the plain game of Eq. 1 (the default R1 penalty would hold D
    # off the optimum it is tested against)
    game_cfg = GameFields(lr=2e-2, beta1=0.5, d_steps=2, r1_gamma=0.0, instance_noise=0.0)
    opt_d = toy_nets.adam(disc.parameters(), 2e-2, (0.5, 0.999))
    dummy = torch.nn.Parameter(torch.zeros(1))
    game = Game(disc, opt_d, toy_nets.adam([dummy], 1e-2, (0.5, 0.999)), game_cfg, 2,
                ReplicaRNG([0, 1], "noise"))
    real = POINTS[exact_batch(Q, 4)].expand(2, -1, -1)
    fake = POINTS[exact_batch(P, 4)].expand(2, -1, -1)
    for step in range(150):
        out = game.step(lambda _: (real, fake), real, step, 0.0)
    bound = math.log(4) - 2 * jsd(Q, P)
    assert torch.all(out["loss_d"] >= bound - 1e-3)  # no D beats the optimal one
    assert torch.allclose(out["loss_d"], torch.full((2,), bound), atol=0.02)
