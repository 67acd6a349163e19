"""The model checks of the conformance kit: ``check_model`` and each check it runs.

Each builds the plugin's model on a small dataset (the toy grid25 by default) through the
host's public contract only: ``genzoo.Model``'s methods, the ``Trainer`` and the ``Run``
checkpoint path. Nothing here knows a model by name.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from genzoo.core import config as config_lib
from genzoo.core import sampling
from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.base import Dataset
from genzoo.data.toy import grid25
from genzoo.training.runs import Run
from genzoo.training.trainer import Trainer, TrainSettings

# Seeds trained together may differ from seeds trained alone by the rounding of a batched
# matmul (MKL picks kernels by batch count); anything larger is a real leak between replicas.
SEED_RTOL, SEED_ATOL = 1e-4, 1e-5


class ConformanceError(AssertionError):
    """A conformance check failed; the message names the check and what was wrong."""


class _Case:
    """What every model check works from: the class, its data, its config and the budget."""

    def __init__(self, check: str, model_cls: type[Model], dataset: Dataset | None,
                 overrides: Mapping[str, Any] | None, preset: str, steps: int,
                 batch_size: int):
        if steps < 2:
            raise ValueError("the checks need steps >= 2 (resume stops half-way)")
        self.check, self.model_cls, self.preset = check, model_cls, preset
        self.steps, self.batch_size = steps, batch_size
        self.name = getattr(model_cls, "name", "") or getattr(model_cls, "__qualname__", "?")
        self.dataset = grid25() if dataset is None else dataset
        self.overrides = dict(overrides or {})

    def fail(self, what: str) -> ConformanceError:
        return ConformanceError(f"{self.check} failed for model {self.name!r}: {what}")

    @contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """Turn an exception raised by the model into a failure that says what was being done."""
        try:
            yield
        except ConformanceError:
            raise
        except Exception as exc:
            raise self.fail(f"{doing} raised {type(exc).__name__}: {exc}") from exc

    def config(self) -> Any:
        with self.guard(f"building its {self.preset!r} config with overrides {self.overrides}"):
            return self.model_cls.make_config(self.dataset.spec, self.preset, self.overrides)

    @property
    def multi_seeds(self) -> list[int]:
        """Two seeds for a vectorized model (so the replica axis is exercised), else one."""
        return [0, 1] if self.model_cls.vectorized else [0]

    def build(self, seeds: Sequence[int]) -> Model:
        """One replica per seed; a non-vectorized model is stacked as the host stacks it."""
        from genzoo.api import build_model_from_config

        with self.guard(f"building with seeds {list(seeds)}"):
            return build_model_from_config(self.model_cls, self.config(), self.dataset, seeds)

    def settings(self, steps: int | None = None, **changes: Any) -> TrainSettings:
        values: dict[str, Any] = {"steps": steps or self.steps, "batch_size": self.batch_size,
                                  "log_every": 1, "checkpoint_every": 0}
        return TrainSettings(**{**values, **changes})

    def train(self, model: Model, steps: int | None = None) -> list[dict[str, torch.Tensor]]:
        """Train through the host's own loop pieces; return every step's metrics."""
        trainer = Trainer(model, self.dataset, self.settings(steps))
        model.train()
        history = []
        with self.guard(f"training (step {trainer.step})"):
            while trainer.step < trainer.settings.steps:
                history.append(model.train_step(trainer.draw(), trainer.step,
                                                trainer.settings.steps))
                trainer.step += 1
        model.eval()
        return history


def state_copy(model: Model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _outputs(case: _Case, model: Model, n: int = 6) -> dict[str, torch.Tensor]:
    """Every declared capability's output, drawn with fresh "eval" generators (so two models
    in the same state give the same numbers), in eval mode and without gradients."""
    model.eval()
    x, _ = case.dataset.draw(n, torch.Generator().manual_seed(1234), split="test")
    x = x.unsqueeze(0).expand(model.replicas, *x.shape).contiguous().to(model.device)
    out: dict[str, torch.Tensor] = {}
    rng = lambda: ReplicaRNG(model.seeds, "eval")  # noqa: E731 - a fresh one per call
    with torch.no_grad(), case.guard("calling its capabilities"):
        if model.can("sample"):
            out["sample"] = model.sample(n, rng())
        if model.can("encode"):
            out["encode"] = model.encode(x, rng())
            out["decode"] = model.decode(out["encode"])
            out["sample_prior"] = model.sample_prior(n, rng())
        if model.can("reconstruct"):
            out["reconstruct"] = model.reconstruct(x, rng())
        if model.can("classify"):
            out["classify"] = model.classify(x)
        if model.can("features"):
            out["features"] = model.features(x)
        if model.can("guide"):
            out["sample_scored"], out["sample_scored logit"] = model.sample_scored(n, rng())
            out["score_data"] = model.score_data(x, rng())
    return out


def first_difference(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor],
                      rtol: float = 0.0, atol: float = 0.0) -> str | None:
    """None when ``a`` and ``b`` hold the same keys and (close or bitwise) equal tensors."""
    if set(a) != set(b):
        return f"keys differ: only in first {sorted(set(a) - set(b))}, " \
               f"only in second {sorted(set(b) - set(a))}"
    for key in sorted(a):
        x, y = a[key], b[key]
        if x.shape != y.shape or x.dtype != y.dtype:
            return f"{key}: {tuple(x.shape)} {x.dtype} vs {tuple(y.shape)} {y.dtype}"
        if rtol == 0 and atol == 0:
            same = torch.equal(x, y)
        else:
            same = torch.allclose(x.double(), y.double(), rtol=rtol, atol=atol, equal_nan=True)
        if not same:
            gap = (x.double() - y.double()).abs().max().item() if x.numel() else 0.0
            return f"{key} differs (largest gap {gap:.3g})"
    return None


# --- the model checks ---------------------------------------------------------------------------


def check_declaration(model_cls: type[Model], dataset: Dataset | None = None,
                      overrides: Mapping[str, Any] | None = None, *, preset: str = "default",
                      steps: int = 4, batch_size: int = 16) -> None:
    """The class attributes form a usable declaration, and every preset builds a config."""
    case = _Case("check_declaration", model_cls, dataset, overrides, preset, steps, batch_size)
    if not (isinstance(model_cls, type) and issubclass(model_cls, Model)):
        raise case.fail(f"{model_cls!r} does not subclass genzoo.Model")
    with case.guard("Model.check_declaration()"):
        model_cls.check_declaration()
    if not isinstance(model_cls.vectorized, bool):
        raise case.fail(f"`vectorized` must be True or False, not {model_cls.vectorized!r}")
    if "reconstruct" in model_cls.capabilities and "encode" not in model_cls.capabilities \
            and model_cls.reconstruct is Model.reconstruct:
        raise case.fail("declares 'reconstruct' without 'encode' and without its own "
                        "reconstruct(); declare 'encode' or define reconstruct()")
    if "encode" in model_cls.capabilities and model_cls.decode is Model.decode:
        raise case.fail("declares 'encode' but does not define decode(); reconstructions and "
                        "evaluators need both")
    for name in model_cls.preset_names():
        with case.guard(f"building preset {name!r}"):
            model_cls.make_config(case.dataset.spec, name)


def check_config(model_cls: type[Model], dataset: Dataset | None = None,
                 overrides: Mapping[str, Any] | None = None, *, preset: str = "default",
                 steps: int = 4, batch_size: int = 16) -> None:
    """Every config field survives config.json (to_dict/from_dict) and ``--set KEY=VALUE``.

    A run is rebuilt from config.json on resume, sample and evaluate; a field that does not
    round-trip would silently resume a different model.
    """
    case = _Case("check_config", model_cls, dataset, overrides, preset, steps, batch_size)
    for name in model_cls.preset_names():
        with case.guard(f"building preset {name!r}"):
            config = model_cls.make_config(case.dataset.spec, name)
        for field in dataclasses.fields(config):
            try:
                json.dumps(getattr(config, field.name))
            except (TypeError, ValueError):
                raise case.fail(f"preset {name!r}: field {field.name!r} holds "
                                f"{getattr(config, field.name)!r}, which config.json cannot "
                                f"hold; use int, float, str, bool, None, tuple or Literal") \
                    from None
        with case.guard(f"writing preset {name!r} to JSON and back"):
            back = config_lib.from_dict(model_cls.Config, config_lib.to_dict(config))
        if back != config:
            diff = [f.name for f in dataclasses.fields(config)
                    if getattr(back, f.name) != getattr(config, f.name)]
            raise case.fail(f"preset {name!r}: field(s) {diff} change when written to "
                            f"config.json and read back; use JSON-friendly types "
                            f"(int, float, str, bool, None, tuple, Literal)")
    default = model_cls.make_config(case.dataset.spec)
    for field in dataclasses.fields(default):
        value = getattr(default, field.name)
        text = "none" if value is None else (
            ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value))
        with case.guard(f"parsing --set {field.name}={text}"):
            parsed = config_lib.parse_overrides(model_cls.Config, [f"{field.name}={text}"])
        if parsed[field.name] != value:
            raise case.fail(f"--set {field.name}={text} gives {parsed[field.name]!r}, not the "
                            f"default {value!r}")


def check_builds(model_cls: type[Model], dataset: Dataset | None = None,
                 overrides: Mapping[str, Any] | None = None, *, preset: str = "default",
                 steps: int = 4, batch_size: int = 16) -> None:
    """It builds from its config; weights are finite; its optimizers hold only its own
    parameters (anything else would be missing from checkpoints)."""
    case = _Case("check_builds", model_cls, dataset, overrides, preset, steps, batch_size)
    seeds = case.multi_seeds
    model = case.build(seeds)
    if not isinstance(model, Model):
        raise case.fail(f"building gave {type(model).__name__}, not a genzoo.Model")
    if model.replicas != len(seeds) or list(model.seeds) != seeds:
        raise case.fail(f"built with seeds {seeds} but reports seeds {model.seeds}")
    if model.name != model_cls.name:
        raise case.fail(f"instance name {model.name!r} differs from the class's")
    for key, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise case.fail(f"initial {key} is not finite")
    own = {id(p) for p in model.parameters()}
    with case.guard("optimizers()"):
        optimizers = model.optimizers()
    if not isinstance(optimizers, dict):
        raise case.fail(f"optimizers() returned {type(optimizers).__name__}, not a dict")
    for name, opt in optimizers.items():
        if not isinstance(opt, torch.optim.Optimizer):
            raise case.fail(f"optimizers()[{name!r}] is not a torch.optim.Optimizer")
        for group in opt.param_groups:
            if any(id(p) not in own for p in group["params"]):
                raise case.fail(f"optimizer {name!r} updates tensors that are not parameters "
                                f"of the model (register them as nn.Parameter of a submodule)")
    if not model_cls.vectorized:
        with case.guard("checking that a non-vectorized model refuses two seeds"):
            try:
                model_cls(case.config(), case.dataset.spec, [0, 1])
            except GenzooError:
                pass
            else:
                raise case.fail("is not vectorized but accepted two seeds; call "
                                "Model.__init__ (super().__init__) first")


def check_trains(model_cls: type[Model], dataset: Dataset | None = None,
                 overrides: Mapping[str, Any] | None = None, *, preset: str = "default",
                 steps: int = 4, batch_size: int = 16) -> None:
    """A few steps run; each returns finite metrics of shape (R,); weights change, stay finite."""
    case = _Case("check_trains", model_cls, dataset, overrides, preset, steps, batch_size)
    model = case.build(case.multi_seeds)
    before = state_copy(model)
    history = case.train(model)
    r = model.replicas
    for step, metrics in enumerate(history):
        if not isinstance(metrics, Mapping) or not metrics:
            raise case.fail(f"train_step returned {metrics!r} at step {step}; return a "
                            f"non-empty dict of metric name -> tensor of shape (R,)")
        for key, value in metrics.items():
            if not torch.is_tensor(value) or tuple(value.shape) != (r,):
                shape = tuple(value.shape) if torch.is_tensor(value) else type(value).__name__
                raise case.fail(f"metric {key!r} at step {step} has shape {shape}, expected "
                                f"({r},): one value per replica")
            if not torch.isfinite(value.detach().float()).all():
                raise case.fail(f"metric {key!r} is not finite at step {step}: "
                                f"{value.tolist()}")
    after = state_copy(model)
    for key, tensor in after.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise case.fail(f"{key} is not finite after {case.steps} steps")
    if first_difference(before, after) is None:
        raise case.fail(f"no weight changed in {case.steps} steps; does train_step step "
                        f"its optimizers?")


def check_capabilities(model_cls: type[Model], dataset: Dataset | None = None,
                       overrides: Mapping[str, Any] | None = None, *, preset: str = "default",
                       steps: int = 4, batch_size: int = 16) -> None:
    """Each declared capability works, returns the documented shape, is finite, is a function
    of the generator it is given, and leaves the model's training noise stream alone."""
    case = _Case("check_capabilities", model_cls, dataset, overrides, preset, steps, batch_size)
    model = case.build(case.multi_seeds)
    case.train(model)
    noise_before = model.noise.get_state().clone()
    weights_before = state_copy(model)
    n, r, x_shape = 6, model.replicas, tuple(case.dataset.spec.x_shape)
    out = _outputs(case, model, n)
    expected: dict[str, tuple[int, ...] | None] = {
        "sample": (r, n, *x_shape), "decode": (r, n, *x_shape),
        "reconstruct": (r, n, *x_shape), "encode": None, "classify": None,
        "features": None, "sample_prior": None, "sample_scored": (r, n, *x_shape),
        "sample_scored logit": (r, n), "score_data": (r, n)}
    for cap, value in out.items():
        if not torch.is_tensor(value):
            raise case.fail(f"{cap}() returned {type(value).__name__}, not a tensor")
        want = expected[cap]
        shape = tuple(value.shape)
        if want is not None and shape != want:
            raise case.fail(f"{cap}() returned shape {shape}, expected {want} "
                            f"(replicas, n, *x_shape)")
        if want is None and (len(shape) != 3 or shape[:2] != (r, n)):
            raise case.fail(f"{cap}() returned shape {shape}, expected ({r}, {n}, features)")
        if cap == "classify" and case.dataset.spec.num_classes and \
                shape[2] != case.dataset.spec.num_classes:
            raise case.fail(f"classify() gives {shape[2]} logits for a dataset with "
                            f"{case.dataset.spec.num_classes} classes")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise case.fail(f"{cap}() returned values that are not finite")
    if "encode" in out and out["sample_prior"].shape != out["encode"].shape:
        raise case.fail(f"sample_prior() gives z of shape {tuple(out['sample_prior'].shape)} "
                        f"but encode() gives {tuple(out['encode'].shape)}; q(z) is scored "
                        f"against p(z), so set the config's z_dim or override sample_prior()")
    if sampling.refusal(model, "langevin") is None:
        _check_score_latent(case, model, out, n)
    if not out:
        return
    difference = first_difference(out, _outputs(case, model, n))
    if difference:
        raise case.fail(f"two calls with identically seeded generators differ ({difference}); "
                        f"draw all randomness from the rng argument")
    if not torch.equal(model.noise.get_state(), noise_before):
        raise case.fail("calling a capability with an explicit rng consumed the model's "
                        "training noise stream (model.noise); use the rng it is given, or "
                        "evaluating a run would change how it resumes")
    difference = first_difference(weights_before, state_copy(model))
    if difference:
        raise case.fail(f"calling its capabilities in eval mode changed its state "
                        f"({difference})")


def _check_score_latent(case: _Case, model: Model, out: dict[str, torch.Tensor], n: int
                        ) -> None:
    """What ``--sampler langevin`` relies on: score_latent(z) is sample_scored at given z,
    differentiable in z, and the prior has a finite log-density there."""
    z = model.sample_prior(n, ReplicaRNG(model.seeds, "eval")).detach().requires_grad_(True)
    with torch.enable_grad(), case.guard("calling score_latent and prior_log_prob"):
        x, logit = model.score_latent(z)
        log_p = model.prior_log_prob(z)
        if tuple(logit.shape) != (model.replicas, n) or tuple(log_p.shape) != (model.replicas, n):
            raise case.fail(f"score_latent() gave logits of shape {tuple(logit.shape)} and "
                            f"prior_log_prob() {tuple(log_p.shape)}, expected "
                            f"{(model.replicas, n)}")
        if not logit.requires_grad:
            raise case.fail("score_latent()'s logit carries no gradient to z; --sampler "
                            "langevin moves z along it (do not detach or use no_grad)")
        (grad,) = torch.autograd.grad((logit.sum() + log_p.sum()), z)
    if not (torch.isfinite(grad).all() and torch.isfinite(log_p).all()):
        raise case.fail("score_latent()'s gradient or prior_log_prob() is not finite")
    if x.shape != out["sample_scored"].shape or not torch.allclose(
            logit.detach(), out["sample_scored logit"], rtol=1e-4, atol=1e-4):
        raise case.fail("score_latent(sample_prior(n, rng)) differs from sample_scored(n, rng); "
                        "sample_scored should score the latents it draws as score_latent does")


def check_save_reload(model_cls: type[Model], dataset: Dataset | None = None,
                      overrides: Mapping[str, Any] | None = None, *, preset: str = "default",
                      steps: int = 4, batch_size: int = 16) -> None:
    """Trained, checkpointed through a Run (safetensors + JSON), and loaded into a fresh
    instance, it has identical state and gives identical outputs."""
    from safetensors.torch import load_file

    case = _Case("check_save_reload", model_cls, dataset, overrides, preset, steps, batch_size)
    seeds = case.multi_seeds
    with tempfile.TemporaryDirectory(prefix="genzoo-check-") as tmp:
        run = Run.create(Path(tmp) / "run", {"model": case.name, "seeds": seeds})
        model = case.build(seeds)
        trainer = Trainer(model, case.dataset, case.settings(), run=run)
        with case.guard("training and checkpointing through the Trainer"):
            trainer.fit()
        files = sorted(p.name for p in run.checkpoint_dir.iterdir())
        wrong = [f for f in files if not f.endswith((".safetensors", ".json"))]
        if wrong or not files:
            raise case.fail(f"the checkpoint directory holds {files}; expected only "
                            f".safetensors files and JSON sidecars")
        for f in files:
            if f.endswith(".safetensors"):
                with case.guard(f"loading {f} with safetensors"):
                    load_file(run.checkpoint_dir / f)
        fresh = case.build(seeds)
        loader = Trainer(fresh, case.dataset, case.settings(), run=run)
        with case.guard("loading the checkpoint into a fresh instance"):
            loader.load_state(run.load_checkpoint())
        difference = first_difference(state_copy(model), state_copy(fresh))
        if difference:
            raise case.fail(f"reloaded state differs from the saved model: {difference}")
        difference = first_difference(_outputs(case, model), _outputs(case, fresh))
        if difference:
            raise case.fail(f"reloaded model gives different outputs: {difference}; keep all "
                            f"state in parameters or registered buffers")


def check_resume(model_cls: type[Model], dataset: Dataset | None = None,
                 overrides: Mapping[str, Any] | None = None, *, preset: str = "default",
                 steps: int = 4, batch_size: int = 16) -> None:
    """Stopped half-way and resumed from the checkpoint, training ends bit for bit where an
    uninterrupted run ends: weights, optimizer state and random streams (on CPU)."""
    case = _Case("check_resume", model_cls, dataset, overrides, preset, steps, batch_size)
    seeds = case.multi_seeds
    half = case.steps // 2
    with tempfile.TemporaryDirectory(prefix="genzoo-check-") as tmp:
        run = Run.create(Path(tmp) / "run", {"model": case.name, "seeds": seeds})
        whole = Trainer(case.build(seeds), case.dataset,
                        case.settings(checkpoint_every=half, keep_checkpoints=0), run=run)
        with case.guard("training the uninterrupted run"):
            whole.fit()
        resumed = Trainer(case.build(seeds), case.dataset, case.settings())
        with case.guard(f"resuming from the checkpoint at step {half}"):
            resumed.load_state(run.load_checkpoint(half))
            resumed.fit()
        with case.guard("collecting the trainer state"):
            a, _ = whole.state()
            b, _ = resumed.state()
    difference = first_difference(a, b)
    if difference:
        raise case.fail(f"a run resumed at step {half} of {case.steps} does not end where the "
                        f"uninterrupted run ends: {difference}; save all state in parameters, "
                        f"buffers or optimizers(), and draw noise only from model.noise")


def check_reproducible(model_cls: type[Model], dataset: Dataset | None = None,
                       overrides: Mapping[str, Any] | None = None, *, preset: str = "default",
                       steps: int = 4, batch_size: int = 16) -> None:
    """The same seed gives the same model, whatever torch's global generator holds."""
    case = _Case("check_reproducible", model_cls, dataset, overrides, preset, steps, batch_size)
    seeds = case.multi_seeds
    states = []
    saved = torch.get_rng_state()
    try:
        for global_seed in (1, 2):
            torch.manual_seed(global_seed)  # a model reading the global RNG would now diverge
            model = case.build(seeds)
            case.train(model)
            states.append({**state_copy(model), **{f"out/{k}": v
                                               for k, v in _outputs(case, model).items()}})
    finally:
        torch.set_rng_state(saved)
    difference = first_difference(*states)
    if difference:
        raise case.fail(f"two runs with the same seeds differ ({difference}); draw every "
                        f"random number from a ReplicaRNG (model.noise, or the 'init' stream "
                        f"for weights), never from torch's global generator")


def check_seeds_independent(model_cls: type[Model], dataset: Dataset | None = None,
                            overrides: Mapping[str, Any] | None = None, *,
                            preset: str = "default", steps: int = 4,
                            batch_size: int = 16) -> None:
    """Seeds 0 and 1 trained together (one vectorized model, or the host's stack) equal each
    seed trained alone: replicas neither share state nor see each other's data."""
    case = _Case("check_seeds_independent", model_cls, dataset, overrides, preset, steps,
                 batch_size)
    together = case.build([0, 1])
    joint = case.train(together)
    joint_out = _outputs(case, together)
    for i, seed in enumerate((0, 1)):
        alone = case.build([seed])
        single = case.train(alone)
        single_out = _outputs(case, alone)
        mine = {f"out/{k}": v[i : i + 1] for k, v in joint_out.items()}
        mine.update({f"metric/{k}@{s}": v[i : i + 1] for s, m in enumerate(joint)
                     for k, v in m.items()})
        ref = {f"out/{k}": v for k, v in single_out.items()}
        ref.update({f"metric/{k}@{s}": v.reshape(1) for s, m in enumerate(single)
                    for k, v in m.items()})
        mine = {k: v.detach().cpu() for k, v in mine.items()}
        ref = {k: v.detach().cpu() for k, v in ref.items()}
        difference = first_difference(mine, ref, rtol=SEED_RTOL, atol=SEED_ATOL)
        if difference:
            raise case.fail(f"replica {i} of a two-seed model differs from seed {seed} "
                            f"trained alone: {difference}")


MODEL_CHECKS: dict[str, Callable[..., None]] = {
    f.__name__: f for f in (check_declaration, check_config, check_builds, check_trains,
                            check_reproducible, check_capabilities, check_save_reload,
                            check_resume, check_seeds_independent)
}


def check_model(model_cls: type[Model], dataset: Dataset | None = None,
                overrides: Mapping[str, Any] | None = None, *, preset: str = "default",
                steps: int = 4, batch_size: int = 16, skip: Sequence[str] = ()) -> list[str]:
    """Run every check of ``MODEL_CHECKS`` (except those named in ``skip``) on ``model_cls``.

    ``dataset`` defaults to the toy grid25; ``overrides`` are config settings applied on top
    of ``preset`` (use them to shrink networks so the checks stay fast). Returns the names of
    the checks that ran; raises ``ConformanceError`` at the first failure.
    """
    unknown = set(skip) - set(MODEL_CHECKS)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; known: {list(MODEL_CHECKS)}")
    ran = []
    for name, check in MODEL_CHECKS.items():
        if name in skip:
            continue
        check(model_cls, dataset, overrides, preset=preset, steps=steps,
              batch_size=batch_size)
        ran.append(name)
    return ran
