"""A model declares its prior (Model.sample_prior, .prior_name); the host scores and draws it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec, Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.toy import grid25
from genzoo.evaluators.base import prior_draws
from genzoo.evaluators.inference import InferenceQuality
from genzoo.reports import toy as report_toy
from genzoo.testing import ConformanceError, check_capabilities
from genzoo.training.stack import ModelStack

GRID = grid25()
BOX = 1.0  # the box prior U(-1, 1)^d, far enough from N(0, I) to tell apart


@dataclass
class CodeConfig:
    z_dim: int = 2
    lr: float = 0.1
    steps: int = 4
    batch_size: int = 8


class UniformCode(Model):
    """q(z|x) ignores x and draws U(-1, 1)^d; decode maps z to the plane by a fixed matrix.
    With the default prior N(0, I) its q(z) is wrong; with BoxPrior's it is exact."""

    name = "uniform-code"
    Config = CodeConfig
    capabilities = frozenset({"sample", "encode", "reconstruct"})
    vectorized = True

    def __init__(self, config: CodeConfig, data: DataSpec, seeds=(0,)):
        super().__init__(config, data, seeds)
        self.w = nn.Parameter(ReplicaRNG(self.seeds, "init").randn(config.z_dim, 2))
        self.opt = torch.optim.SGD(self.parameters(), lr=config.lr)

    def optimizers(self):
        return {"sgd": self.opt}

    def train_step(self, batch, step, total_steps):
        loss = (self.decode(self.encode(batch.x)) - batch.x).square().sum(-1).mean(1)
        self.opt.zero_grad()
        loss.sum().backward()
        self.opt.step()
        return {"loss": loss.detach()}

    def encode(self, x, rng=None):
        u = (rng or self.noise).rand(x.shape[1], self.config.z_dim).to(x.device)
        return (2 * u - 1) * BOX

    def decode(self, z):
        return z @ self.w

    def sample(self, n, rng=None):
        return self.decode(self.sample_prior(n, rng))


class BoxPrior(UniformCode):
    prior_name = "U(-1, 1)^d"

    def sample_prior(self, n, rng=None):
        return (2 * (rng or self.noise).rand(n, self.z_dim).to(self.device) - 1) * BOX


def build(cls: type[Model], seeds=(0, 1), **overrides) -> Model:
    return cls(cls.make_config(GRID.spec, overrides=overrides), GRID.spec, list(seeds))


def test_the_default_prior_is_a_standard_normal_of_the_configs_z_dim() -> None:
    model = build(UniformCode, z_dim=3)
    assert model.z_dim == 3 and model.prior_name == "N(0, I)"
    z = model.sample_prior(4000, ReplicaRNG([0, 1], "eval"))
    assert z.shape == (2, 4000, 3)
    assert z.mean().abs() < 0.05 and (z.std() - 1).abs() < 0.05
    assert z.abs().max() > 3  # a normal's tails
    same = model.sample_prior(4000, ReplicaRNG([0, 1], "eval"))
    assert torch.equal(z, same)  # drawn from the rng it is given


def test_a_model_without_z_dim_is_told_what_to_do_and_scored_against_n01() -> None:
    model = build(UniformCode, seeds=[0])
    model.config = None  # a config without z_dim: the host cannot size p(z)
    with pytest.raises(GenzooError, match="declares no z_dim.*override sample_prior"):
        model.sample_prior(3)
    model.z_dim = 2  # an attribute of its own is enough
    assert model.sample_prior(3).shape == (1, 3, 2)
    # without either, evaluators fall back to N(0, I) of the encodings' size, as before
    # models declared priors: the box codes are far from it
    del model.__dict__["_z_dim"]
    z = torch.zeros(1, 5, 2)
    draws = prior_draws(model, 4000, z, ReplicaRNG([0], "eval"))
    assert draws.shape == (1, 4000, 2) and draws.abs().max() > 3


def test_latent_match_scores_q_z_against_the_models_own_prior() -> None:
    evaluator = InferenceQuality(heldout=2000)
    own = evaluator.evaluate(build(BoxPrior), GRID).metrics["latent_match"]
    normal = evaluator.evaluate(build(UniformCode), GRID).metrics["latent_match"]
    # q(z) is exactly BoxPrior's p(z): 0 ± 0.0015 at 1,000 points; U(-1, 1)² is far from
    # N(0, I)
    assert all(abs(v) < 0.01 for v in own), own
    assert all(v > 0.02 for v in normal), normal


def test_a_stacked_model_draws_each_members_prior() -> None:
    members = [build(BoxPrior, seeds=[s]) for s in (3, 4)]
    stack = ModelStack(members)
    assert stack.prior_name == "U(-1, 1)^d" and stack.z_dim == 2
    z = stack.sample_prior(500, ReplicaRNG([3, 4], "eval"))
    assert z.shape == (2, 500, 2) and z.abs().max() <= BOX
    alone = members[1].sample_prior(500, ReplicaRNG([4], "eval"))
    assert torch.equal(z[1:], alone)


@pytest.mark.parametrize(("z_dim", "shown"), [(1, "1-d, on a line"), (2, "z (2-d)"),
                                              (3, "z₁, z₂ of 3 dims")])
def test_the_figure_says_which_prior_and_which_dims_it_shows(tmp_path, z_dim, shown) -> None:
    fig = report_toy.figure_data(build(BoxPrior, z_dim=z_dim), GRID, n=300)
    assert fig.prior is not None and fig.prior.shape == (300, z_dim)
    assert fig.prior.abs().max() <= BOX  # the model's prior, not N(0, I)
    caption = report_toy.latent_caption(fig)
    assert caption.startswith("p(z) = U(-1, 1)^d") and shown in caption
    out = tmp_path / "figure.png"
    report_toy.save_figure({"box": fig}, GRID, out)
    assert out.stat().st_size > 10_000


def test_conformance_catches_a_prior_of_the_wrong_size() -> None:
    class WrongSize(BoxPrior):  # its sampler is right, the prior it declares is not
        def sample_prior(self, n, rng=None):
            return torch.cat([super().sample_prior(n, rng)] * 2, -1)

        def sample(self, n, rng=None):
            return self.decode(BoxPrior.sample_prior(self, n, rng))

    check_capabilities(BoxPrior)
    with pytest.raises(ConformanceError, match=r"sample_prior\(\) gives z of shape \(2, 6, 4\)"):
        check_capabilities(WrongSize)
