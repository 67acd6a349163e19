"""inference: latent match, reconstruction error and mode accuracy with known answers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
import torch

from genzoo.core import plugins
from genzoo.core.model import DataSpec, Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.toy import grid25
from genzoo.evaluators.base import eval_rng, heldout
from genzoo.evaluators.inference import (
    InferenceQuality,
    energy_distance,
    recall,
    reconstruction_scores,
)

GRID = grid25()
MEANS, STD = GRID.means, GRID.std


def test_energy_distance_of_two_point_masses_is_twice_their_distance() -> None:
    a = torch.tensor([[0.0, 0.0]]).repeat(50, 1)
    b = torch.tensor([[3.0, 4.0]]).repeat(40, 1)
    assert energy_distance(a, b).item() == pytest.approx(2 * 5.0)
    assert energy_distance(a, a).item() == pytest.approx(0.0)


def test_energy_distance_is_near_zero_for_equal_laws_and_grows_with_a_shift() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(8, 1000, 2, generator=g), torch.randn(8, 1000, 2, generator=g)
    same = energy_distance(a, b)
    assert same.shape == (8,)
    assert same.abs().max().item() < 0.01  # its null spread is about 0.0015 at n = 1000
    shifted = energy_distance(a, b + torch.tensor([0.5, 0.0]))
    assert shifted.min().item() > 0.08  # about 0.12 for a 0.5 shift in 2-d
    # a q(z) with a hole where p(z) has mass is told apart from p(z)
    holed = b[b.norm(dim=-1) > 0.7].reshape(1, -1, 2)
    assert energy_distance(holed, a[:1]).item() > 0.01  # ~0.02, over 10 null spreads


def test_reconstruction_scores() -> None:
    x, comp = GRID.draw(1000, torch.Generator().manual_seed(4))
    perfect = reconstruction_scores(x, x, comp, MEANS, STD)
    assert perfect["reconstruction_error"].item() == 0.0
    # x is within 3σ of its own mean about 98.9 % of the time: x itself is the ceiling
    assert perfect["reconstruction_mode_accuracy"].item() == pytest.approx(
        1 - math.exp(-4.5), abs=0.02)
    on_mean = reconstruction_scores(x, MEANS[comp], comp, MEANS, STD)
    assert on_mean["reconstruction_mode_accuracy"].item() == 1.0
    neighbour = MEANS[comp] + torch.tensor([2.0, 0.0])  # the next mode over (or off the grid)
    wrong = reconstruction_scores(MEANS[comp], neighbour, comp, MEANS, STD)
    assert wrong["reconstruction_error"].item() == pytest.approx(4.0)
    assert wrong["reconstruction_mode_accuracy"].item() == 0.0
    nan = reconstruction_scores(x[:2], torch.full((2, 2), math.nan), comp[:2], MEANS, STD)
    assert nan["reconstruction_mode_accuracy"].item() == 0.0


class FakeAutoencoder(Model):
    """encode(x) = x / 4 (+ nothing) or a draw from the prior; decode(z) = 4 z or a constant."""

    name = "fake-ae"
    capabilities = frozenset({"sample", "encode", "reconstruct"})
    vectorized = True

    def __init__(self, seeds: Sequence[int], mode: str):
        super().__init__(None, DataSpec("grid25", (2,)), seeds)
        self.mode = mode

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self.decode(rng.randn(n, 2))

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        if self.mode == "prior":
            return rng.randn(*x.shape[1:])
        return x / 4

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if self.mode == "prior":
            return MEANS[0].expand_as(z).clone()
        return z * 4


def test_evaluator_on_a_perfect_autoencoder() -> None:
    res = InferenceQuality(heldout=2000).evaluate(FakeAutoencoder([0, 1], "scale"), GRID)
    assert res.metrics["reconstruction_error"] == pytest.approx([0.0, 0.0], abs=1e-10)
    assert all(0.97 < v < 1.0 for v in res.metrics["reconstruction_mode_accuracy"])
    # q(z) is x / 4: 25 tight blobs on [-1, 1]², not N(0, I): about 0.04, where equal laws
    # give 0 ± 0.0015 at 1,000 points
    assert all(v > 0.02 for v in res.metrics["latent_match"])
    # ... and they cover little of it: most draws of N(0, I) lie outside [-1, 1]² or between
    # the blobs
    assert all(v < 0.3 for v in res.metrics["latent_recall"])


def test_evaluator_on_an_encoder_that_ignores_x() -> None:
    res = InferenceQuality(heldout=4000).evaluate(FakeAutoencoder([0], "prior"), GRID)
    assert abs(res.metrics["latent_match"][0]) < 0.01  # q(z) is exactly p(z)
    assert res.metrics["latent_recall"][0] > 0.9  # and covers it
    # every reconstruction is mode 0: right for the ~1/25 of inputs drawn from mode 0
    assert res.metrics["reconstruction_mode_accuracy"][0] == pytest.approx(1 / 25, abs=0.015)
    assert res.metrics["reconstruction_error"][0] > 10


def test_heldout_data_is_per_seed_and_not_the_training_stream() -> None:
    model = FakeAutoencoder([0, 1], "scale")
    x, comp = heldout(GRID, eval_rng(model, 0, "heldout"), 100)
    assert x.shape == (2, 100, 2) and comp.shape == (2, 100)
    assert not torch.equal(x[0], x[1])
    train, _ = GRID.draw(100, ReplicaRNG([0], "data").generators[0])
    assert not torch.equal(x[0], train)
    alone, _ = heldout(GRID, eval_rng(FakeAutoencoder([1], "scale"), 0, "heldout"), 100)
    assert torch.equal(alone[0], x[1])


def test_needs_an_encoder() -> None:
    class SamplerOnly(Model):
        name = "sampler-only"
        capabilities = frozenset({"sample"})

    reason = InferenceQuality().missing(SamplerOnly(None, GRID.spec), GRID)
    assert reason is not None and "encode" in reason
    assert plugins.registry().evaluator("inference") is InferenceQuality


def test_recall_is_the_share_of_points_inside_the_neighbour_balls() -> None:
    q = torch.tensor([[0.0], [1.0], [2.0], [10.0]])  # nearest-neighbour radii: 1, 1, 1, 8
    p = torch.tensor([[-1.5], [0.5], [2.5], [4.5], [12.0], [30.0]])
    # inside: 0.5 and 2.5 (within 1 of 0, 1 or 2), 4.5 and 12 (within 8 of 10); -1.5 is 1.5
    # from 0, 30 is 20 from 10
    assert float(recall(q, p, k=1)) == pytest.approx(4 / 6)
    same = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    assert float(recall(same, same)) == 1.0  # every point lies in its own ball
