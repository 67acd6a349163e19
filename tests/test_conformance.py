"""genzoo.testing: the bundled plugins pass it, and each check catches the fault it names."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from host_helpers import small_overrides
from torch import nn

from genzoo.core import plugins
from genzoo.core.model import Batch, Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.toy import grid25
from genzoo.evaluators.base import EvalResult, Evaluator
from genzoo.testing import MODEL_CHECKS, ConformanceError, check_evaluator, check_model


def bundled_models() -> list[str]:
    return plugins.registry().models.names()


@pytest.mark.parametrize("name", bundled_models())
def test_bundled_model_conforms(name: str) -> None:
    cls = plugins.registry().model(name)
    assert check_model(cls, overrides=small_overrides(cls)) == list(MODEL_CHECKS)


def bundled_evaluators() -> list[str]:
    return plugins.registry().evaluators.names()


@pytest.mark.parametrize("name", bundled_evaluators())
def test_bundled_evaluator_conforms(name: str) -> None:
    reg = plugins.registry()
    evaluator_cls = reg.evaluator(name)
    data = grid25()
    for model_name in reg.models.names():  # the first bundled model it applies to
        cls = reg.model(model_name)
        config = cls.make_config(data.spec, overrides=small_overrides(cls))
        model = cls(config, data.spec, [0, 1] if cls.vectorized else [0])
        if evaluator_cls().missing(model, data) is None:
            break
    else:
        pytest.skip(f"{name} applies to no bundled model on grid25")
    result = check_evaluator(evaluator_cls, model, data)
    assert set(result.metrics) <= set(evaluator_cls.metrics)


# --- a tiny well-behaved model, and one broken variant per check ------------------------------


@dataclass
class ShiftConfig:
    lr: float = 0.1
    steps: int = 10
    batch_size: int = 8


class Shift(Model):
    """x = mean + N(0, 1): one parameter per replica, vectorized."""

    name = "shift"
    Config = ShiftConfig
    capabilities = frozenset({"sample"})
    vectorized = True

    def __init__(self, config: ShiftConfig, data, seeds=(0,)):
        super().__init__(config, data, seeds)
        self.mean = nn.Parameter(ReplicaRNG(self.seeds, "init").randn(1, 2))
        self.opt = torch.optim.SGD(self.parameters(), lr=config.lr)

    def optimizers(self):
        return {"sgd": self.opt}

    def loss(self, batch: Batch) -> torch.Tensor:
        noise = self.noise.randn(*batch.x.shape[1:])  # a noisy target, drawn as the API says
        return ((batch.x + 0.1 * noise - self.mean) ** 2).sum(-1).mean(1)

    def train_step(self, batch, step, total_steps):
        loss = self.loss(batch)
        self.opt.zero_grad()
        loss.sum().backward()
        self.opt.step()
        return {"loss": loss.detach()}

    def sample(self, n, rng=None):
        rng = rng or self.noise
        return self.mean + rng.randn(n, 2)


class Scored(Shift):
    """Shift with a "discriminator" logit −|x|² / 2 and latents z (x = mean + z), so the guided
    samplers, --sampler langevin included, can run on it."""

    capabilities = frozenset({"sample", "guide"})

    def __init__(self, config, data, seeds=(0,)):
        super().__init__(config, data, seeds)
        self.z_dim = 2

    def score_latent(self, z):
        x = self.mean + z
        return x, self.score_data(x)

    def sample_scored(self, n, rng=None):
        return self.score_latent(self.sample_prior(n, rng))

    def score_data(self, x, rng=None):
        return -0.5 * x.square().sum(-1)


class DetachedLatent(Scored):
    def score_latent(self, z):
        x, logit = super().score_latent(z)
        return x, logit.detach()


def test_the_well_behaved_model_passes_every_check() -> None:
    assert check_model(Shift) == list(MODEL_CHECKS)
    assert check_model(Scored) == list(MODEL_CHECKS)


class BadCapability(Shift):
    capabilities = frozenset({"sample", "fly"})


@dataclass
class PathConfig(ShiftConfig):
    where: Path = Path("somewhere")  # not JSON: config.json could not hold it


class BadConfig(Shift):
    Config = PathConfig


class StrayOptimizer(Shift):
    def __init__(self, config, data, seeds=(0,)):
        super().__init__(config, data, seeds)
        self.extra = torch.zeros(1, requires_grad=True)  # not a Parameter: never checkpointed
        self.opt = torch.optim.SGD([*self.parameters(), self.extra], lr=config.lr)


class ScalarMetric(Shift):
    def train_step(self, batch, step, total_steps):
        return {"loss": super().train_step(batch, step, total_steps)["loss"].sum()}


class NaNMetric(Shift):
    def train_step(self, batch, step, total_steps):
        out = super().train_step(batch, step, total_steps)
        return {"loss": out["loss"] * math.nan}


class NeverSteps(Shift):
    def train_step(self, batch, step, total_steps):
        return {"loss": self.loss(batch).detach()}


class NoReplicaAxis(Shift):
    def sample(self, n, rng=None):
        return super().sample(n, rng)[0]


class IgnoresRng(Shift):
    def sample(self, n, rng=None):
        return super().sample(n, None)  # uses the training stream whatever it is given


class UnsavedState(Shift):
    def __init__(self, config, data, seeds=(0,)):
        super().__init__(config, data, seeds)
        self.offset = torch.zeros(1)  # a plain attribute: not in state_dict, lost on reload

    def train_step(self, batch, step, total_steps):
        self.offset += 1.0
        return super().train_step(batch, step, total_steps)

    def sample(self, n, rng=None):
        return super().sample(n, rng) + self.offset


class PrivateGenerator(Shift):
    def __init__(self, config, data, seeds=(0,)):
        super().__init__(config, data, seeds)
        self.gen = torch.Generator().manual_seed(self.seeds[0])  # not checkpointed

    def loss(self, batch):
        noise = torch.randn(batch.x.shape[1:], generator=self.gen)
        return ((batch.x + 0.1 * noise - self.mean) ** 2).sum(-1).mean(1)


class GlobalRandom(Shift):
    def loss(self, batch):
        noise = torch.randn(batch.x.shape[1:])  # torch's global generator
        return ((batch.x + 0.1 * noise - self.mean) ** 2).sum(-1).mean(1)


class MixesReplicas(Shift):
    def loss(self, batch):
        pooled = batch.x.mean(0, keepdim=True)  # every replica sees every replica's data
        return ((pooled - self.mean) ** 2).sum(-1).mean(1)


@pytest.mark.parametrize(("model_cls", "check", "words"), [
    (BadCapability, "check_declaration", "fly"),
    (BadConfig, "check_config", "where"),
    (StrayOptimizer, "check_builds", "not parameters"),
    (ScalarMetric, "check_trains", "shape ()"),
    (NaNMetric, "check_trains", "not finite"),
    (NeverSteps, "check_trains", "no weight changed"),
    (NoReplicaAxis, "check_capabilities", "(2, 6, 2)"),
    (IgnoresRng, "check_capabilities", "identically seeded"),
    (DetachedLatent, "check_capabilities", "carries no gradient to z"),
    (UnsavedState, "check_save_reload", "different outputs"),
    (PrivateGenerator, "check_resume", "does not end where"),
    (GlobalRandom, "check_reproducible", "global generator"),
    (MixesReplicas, "check_seeds_independent", "replica 0"),
])
def test_each_check_catches_its_fault(model_cls: type[Model], check: str, words: str) -> None:
    # the fault passes every check before its own, and check_model stops at the named one
    earlier = list(MODEL_CHECKS)[:list(MODEL_CHECKS).index(check)]
    assert check_model(model_cls, skip=[c for c in MODEL_CHECKS if c not in earlier]) == earlier
    with pytest.raises(ConformanceError) as err:
        check_model(model_cls)
    message = str(err.value)
    assert message.startswith(f"{check} failed for model 'shift'"), message
    assert words in message
    with pytest.raises(ConformanceError, match=check):
        MODEL_CHECKS[check](model_cls)


def test_a_non_vectorized_model_is_checked_through_the_host_stack() -> None:
    class Single(Shift):
        vectorized = False

    # seeds 0 and 1 go through genzoo.training.stack.ModelStack, which must equal each seed alone
    assert check_model(Single) == list(MODEL_CHECKS)


def test_check_model_refuses_unknown_skips() -> None:
    with pytest.raises(ValueError, match="check_nonsense"):
        check_model(Shift, skip=["check_nonsense"])


# --- evaluators ----------------------------------------------------------------------------------


class MeanDistance(Evaluator):
    """Distance of the sample mean from the origin, per replica."""

    name = "mean-distance"
    requires = frozenset({"sample"})
    metrics = ("distance",)

    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        x = model.sample(200, ReplicaRNG(model.seeds, "eval"))
        values = x.mean(1).norm(dim=-1).tolist()
        artifacts = {}
        if out_dir is not None:
            (Path(out_dir) / "d.txt").write_text(str(values))
            artifacts["values"] = str(Path(out_dir) / "d.txt")
        return EvalResult({"distance": values}, artifacts)


def trained_shift(seeds=(0, 1)) -> Shift:
    data = grid25()
    return Shift(Shift.make_config(data.spec), data.spec, list(seeds))


def test_a_well_behaved_evaluator_passes() -> None:
    model = trained_shift()
    result = check_evaluator(MeanDistance, model)
    assert len(result.metrics["distance"]) == 2
    assert all(v > 0 for v in result.metrics["distance"])


class Undeclared(MeanDistance):
    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        return EvalResult({"other": [0.0] * model.replicas})


class OneValue(MeanDistance):
    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        return EvalResult({"distance": [1.0]})


class TensorValues(MeanDistance):
    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        return EvalResult({"distance": list(torch.ones(model.replicas))})


class UsesTrainingNoise(MeanDistance):
    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        x = model.sample(10)  # no rng: draws from model.noise and shifts a later resume
        return EvalResult({"distance": x.mean(1).norm(dim=-1).tolist()})


class Nondeterministic(MeanDistance):
    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        noise = torch.rand(model.replicas).tolist()  # torch's global generator
        return EvalResult({"distance": noise})


class Trains(MeanDistance):
    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        model.mean.data += 1.0
        return super().evaluate(model, dataset, seed=seed, out_dir=out_dir)


class IgnoresCapabilities(MeanDistance):
    def missing(self, model, dataset):
        return None


class ArtifactsWithoutDir(MeanDistance):
    def evaluate(self, model, dataset, *, seed=0, out_dir=None):
        result = super().evaluate(model, dataset, seed=seed, out_dir=out_dir)
        result.artifacts.setdefault("values", "/nonexistent")
        return result


@dataclass
class RequiredOption:
    n: int  # no default: a user who gives no --eval-option could not run it


class OptionWithoutDefault(MeanDistance):
    Options = RequiredOption


@pytest.mark.parametrize(("evaluator_cls", "words"), [
    (OptionWithoutDefault, "Options fields without a default: n"),
    (Undeclared, "does not declare"),
    (OneValue, "one value per replica"),
    (TensorValues, "real numbers"),
    (UsesTrainingNoise, "training noise stream"),
    (Nondeterministic, "different metrics"),
    (Trains, "changed the model"),
    (IgnoresCapabilities, "no capabilities"),
    (ArtifactsWithoutDir, "out_dir was None"),
])
def test_check_evaluator_catches(evaluator_cls: type[Evaluator], words: str) -> None:
    with pytest.raises(ConformanceError) as err:
        check_evaluator(evaluator_cls, trained_shift())
    assert str(err.value).startswith("check_evaluator failed for evaluator 'mean-distance'")
    assert words in str(err.value)


def test_check_evaluator_refuses_a_model_it_does_not_apply_to() -> None:
    class NeedsEncoder(MeanDistance):
        requires = frozenset({"encode"})

    with pytest.raises(ConformanceError, match="does not apply"):
        check_evaluator(NeedsEncoder, trained_shift())
