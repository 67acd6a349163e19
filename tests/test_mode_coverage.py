"""mode-coverage: both protocols on hand-built samples with known answers, and the evaluator."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
import torch

from genzoo.core import plugins
from genzoo.core.model import DataSpec, Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.base import Dataset
from genzoo.data.toy import grid25, ring8
from genzoo.evaluators.mode_coverage import (
    ModeCoverage,
    nearest_mode,
    pacgan_protocol,
    paper_protocol,
)

GRID = grid25()
MEANS, STD = GRID.means, GRID.std


def test_samples_on_20_of_25_means() -> None:
    x = MEANS[:20].repeat(5, 1)  # 100 samples, 5 exactly on each of 20 means
    paper = paper_protocol(x, MEANS)
    pac = pacgan_protocol(x, MEANS, STD)
    assert paper["modes_paper"].item() == 20
    assert paper["dropped_modes_paper"].item() == 5
    assert pac["modes"].item() == 20
    assert pac["high_quality"].item() == 1.0
    assert pac["reverse_kl"].item() == pytest.approx(math.log(25 / 20), abs=1e-12)


def test_reverse_kl_of_an_uneven_histogram() -> None:
    means = torch.tensor([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    x = means[[0, 0, 0, 1]]  # p = (3/4, 1/4, 0) over K = 3
    expected = 0.75 * math.log(0.75 * 3) + 0.25 * math.log(0.25 * 3)
    got = pacgan_protocol(x, means, std=1.0)
    assert got["reverse_kl"].item() == pytest.approx(expected, abs=1e-12)
    assert got["modes"].item() == 2


def test_points_halfway_between_modes_are_not_high_quality() -> None:
    x = MEANS[:20] + torch.tensor([1.0, 0.0])  # 1 unit = 20σ from the nearest mean
    pac = pacgan_protocol(x, MEANS, STD)
    assert pac["high_quality"].item() == 0.0
    assert pac["modes"].item() == 0
    assert pac["reverse_kl"].item() == pytest.approx(math.log(25))  # documented convention
    # the paper protocol still assigns every sample to some mode
    assert 1 <= paper_protocol(x, MEANS)["modes_paper"].item() <= 20


def test_high_quality_threshold_is_three_sigma() -> None:
    x = MEANS[:2] + torch.tensor([[2.9 * STD, 0.0], [3.1 * STD, 0.0]])
    pac = pacgan_protocol(x, MEANS, STD)
    assert pac["high_quality"].item() == 0.5
    assert pac["modes"].item() == 1
    assert pac["reverse_kl"].item() == pytest.approx(math.log(25))  # all HQ mass on one mode


def test_samples_from_the_true_mixture_reach_the_ceiling() -> None:
    x, _ = GRID.draw(2500, torch.Generator().manual_seed(1))
    pac = pacgan_protocol(x, MEANS, STD)
    assert pac["modes"].item() == 25
    # P(chi2_2 < 9) = 1 - exp(-4.5) = 0.9889; binomial std at n = 2500 is 0.002
    assert pac["high_quality"].item() == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert pac["reverse_kl"].item() < 0.03
    x10k, _ = GRID.draw(10_000, torch.Generator().manual_seed(2))
    assert paper_protocol(x10k, MEANS)["modes_paper"].item() == 25


def test_leading_axes_score_each_replica_separately() -> None:
    a, _ = GRID.draw(500, torch.Generator().manual_seed(3))
    b = MEANS[:3].repeat(10, 1)[:500]
    b = torch.cat([b, b.new_zeros(500 - len(b), 2)])
    batched = pacgan_protocol(torch.stack([a, b]), MEANS, STD)
    for i, x in enumerate((a, b)):
        alone = pacgan_protocol(x, MEANS, STD)
        for key in alone:
            assert batched[key][i].item() == pytest.approx(alone[key].item(), abs=1e-12)


def test_non_finite_samples_sit_on_no_mode() -> None:
    x = torch.stack([MEANS[0], torch.tensor([math.nan, 0.0]), torch.tensor([math.inf, 1.0])])
    idx, dist = nearest_mode(x, MEANS)
    assert idx.tolist() == [0, -1, -1]
    assert math.isinf(dist[1].item())
    pac = pacgan_protocol(x, MEANS, STD)
    assert pac["modes"].item() == 1
    assert pac["high_quality"].item() == pytest.approx(1 / 3)
    assert paper_protocol(x, MEANS)["modes_paper"].item() == 1


# --- the evaluator -------------------------------------------------------------------------------


class FakeSampler(Model):
    """Replica i puts its samples on the first ``modes_per_seed[seed]`` means of the grid,
    picked with the evaluation generator, plus a little noise."""

    name = "fake-sampler"
    capabilities = frozenset({"sample"})
    vectorized = True
    modes_per_seed = {0: 25, 1: 4, 2: 1}

    def __init__(self, seeds: Sequence[int]):
        super().__init__(None, DataSpec("grid25", (2,)), seeds)

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        assert rng is not None
        u, eps = rng.rand(n), rng.randn(n, 2)
        k = torch.tensor([self.modes_per_seed[s] for s in self.seeds]).unsqueeze(1)
        idx = (u * k).long()
        return MEANS[idx] + 0.5 * STD * eps


def test_evaluator_scores_every_replica() -> None:
    res = ModeCoverage().evaluate(FakeSampler([0, 1, 2]), GRID)
    assert res.metrics["modes_paper"] == [25, 4, 1]
    assert res.metrics["modes"] == [25, 4, 1]
    assert all(0.99 < v <= 1.0 for v in res.metrics["high_quality"])  # 0.5σ noise: ~all HQ
    assert res.metrics["reverse_kl"][2] == pytest.approx(math.log(25))
    assert res.metrics["reverse_kl"][1] == pytest.approx(math.log(25 / 4), abs=0.02)


def test_replica_i_is_scored_as_if_alone() -> None:
    together = ModeCoverage(samples_paper=3000, samples=1000).evaluate(FakeSampler([0, 1]), GRID)
    alone = ModeCoverage(samples_paper=3000, samples=1000).evaluate(FakeSampler([1]), GRID)
    assert {k: v[1] for k, v in together.metrics.items()} == \
        {k: v[0] for k, v in alone.metrics.items()}


def test_sample_counts_are_options() -> None:
    res = ModeCoverage(samples_paper=10, samples=5, chunk=3).evaluate(FakeSampler([0]), GRID)
    assert res.metrics["modes_paper"][0] <= 10
    assert res.metrics["modes"][0] <= 5


def test_another_seed_repeats_the_evaluation_independently() -> None:
    ev = ModeCoverage(samples_paper=200, samples=200)
    a = ev.evaluate(FakeSampler([0]), GRID, seed=0).metrics
    b = ev.evaluate(FakeSampler([0]), GRID, seed=1).metrics
    assert a == ev.evaluate(FakeSampler([0]), GRID, seed=0).metrics
    assert a["reverse_kl"] != b["reverse_kl"]  # another draw, another histogram


def test_applies_only_to_gaussian_mixtures_and_samplers() -> None:
    class Images(Dataset):
        spec = DataSpec("pics", (1, 8, 8), kind="image")

    ev = ModeCoverage()
    assert ev.applies_to(GRID) is None and ev.applies_to(ring8()) is None
    assert "not a Gaussian mixture" in ev.applies_to(Images())

    class Encoder(Model):
        name = "enc-only"
        capabilities = frozenset({"encode"})

    reason = ev.missing(Encoder(None, GRID.spec), GRID)
    assert reason is not None and "sample" in reason


def test_registered_through_the_entry_point() -> None:
    reg = plugins.registry()
    assert reg.evaluator("mode-coverage") is ModeCoverage
    assert reg.evaluators.get("mode-coverage").owner == "core-evaluators"


def test_a_third_party_dataset_that_declares_its_mixture_is_scored() -> None:
    from genzoo.data.base import Mixture

    class MyGrid(Dataset):  # not a GaussianMixture: it only says what it is drawn from
        spec = DataSpec("my-grid", (2,), num_classes=25)

        def draw(self, n, generator, split="train"):
            return GRID.draw(n, generator, split)

        def mixture(self) -> Mixture:
            return Mixture(MEANS, STD)

    ev = ModeCoverage(samples_paper=2000, samples=2000)
    assert ev.applies_to(MyGrid()) is None
    mine = ev.evaluate(FakeSampler([0, 1]), MyGrid()).metrics
    assert mine == ev.evaluate(FakeSampler([0, 1]), GRID).metrics
