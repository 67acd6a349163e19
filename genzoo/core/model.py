"""The Model interface: a torch module with a config dataclass, capabilities and a train step.

Shapes. Every tensor a model takes or returns has a leading *replica* axis R: a model built
with ``seeds=[s0, ..., s{R-1}]`` holds R independent copies of its networks (one per seed).
A model that sets ``vectorized = True`` computes all R copies as one batched computation
(see ``genzoo.layers``); any other model is built with a single seed (R = 1) and the host
stacks several instances when it needs several seeds (``genzoo.training.stack.ModelStack``).

- ``sample(n, rng)``      -> x of shape (R, n, *data.x_shape)            capability "sample"
- ``encode(x, rng)``      -> z of shape (R, n, z_dim) from x (R, n, ...) capability "encode"
- ``decode(z)``           -> x of shape (R, n, *x_shape)                  (with "encode")
- ``reconstruct(x, rng)`` -> decode(encode(x))                            capability "reconstruct"
- ``classify(x)``         -> logits (R, n, classes)                       capability "classify"
- ``features(x)``         -> (R, n, d) a fixed-length representation for linear probes
                             (the L2-SVM protocol): for encoders, the posterior mean and the
                             outputs of the encoder's last three hidden layers, flattened
                                                                          capability "features"
- ``sample_scored(n, rng)`` -> (x (R, n, *x_shape), logit (R, n)): generator draws with the
                             discriminator's logit at each, log p_data/p_model as D estimates
                             it (for a joint D, at the pair (x, z) that made x)
- ``score_data(x, rng)``  -> logit (R, n) of that discriminator at real data x (R, n, ...)
                                                                          capability "guide"
                             (``genzoo.core.sampling``'s samplers, ``--sampler drs|mh|langevin``)
- ``score_latent(z)``     -> (x, logit), as ``sample_scored`` but at given latents z
                             (R, n, z_dim), differentiable in z: what ``--sampler langevin``
                             moves z along (optional; a "guide" model without it gets drs/mh)
- ``sample_prior(n, rng)`` -> z of shape (R, n, z_dim) from p(z), named by ``prior_name``:
                             N(0, I) of the config's ``z_dim`` unless a model overrides both.
                             The inference evaluator and compare's q(z) panel draw p(z) here.
- ``prior_log_prob(z)``   -> log p(z) of shape (R, n), differentiable in z; a model that
                             overrides ``sample_prior`` overrides this too (Langevin needs it)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from genzoo.core import config as config_lib
from genzoo.core.errors import GenzooError, PluginError
from genzoo.core.rng import ReplicaRNG

CAPABILITIES = frozenset({"sample", "encode", "reconstruct", "classify", "features", "guide"})
# what "a model that can ..." says of each capability, in messages
CAPABILITY_VERBS = {"sample": "sample", "encode": "encode", "reconstruct": "reconstruct",
                    "classify": "classify", "features": "give features",
                    "guide": "guide its samples with a discriminator"}


class UndeclaredPrior(GenzooError):
    """``sample_prior`` of a model that declares no ``z_dim``: the host then compares its
    encodings with N(0, I) of their own size (``genzoo.evaluators.base.prior_draws``)."""


def can_phrase(capabilities: frozenset[str] | set[str]) -> str:
    """``{"encode", "features"}`` -> ``"encode and give features"``."""
    return " and ".join(CAPABILITY_VERBS.get(c, c) for c in sorted(capabilities))


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data to build its networks."""

    name: str
    x_shape: tuple[int, ...]  # one example's shape: (2,) for toy data, (C, H, W) for images
    kind: str = "toy"  # "toy" (points in the plane) or "image" (values in [0, 1])
    num_classes: int = 0  # 0 when unlabelled
    # names of the binary attributes when labels are attribute vectors (N, A) in {0, 1},
    # as CelebA's 40; empty for class labels. Conditional models size y from it.
    attributes: tuple[str, ...] = ()


@dataclass
class Batch:
    """A training batch with the replica axis first: x is (R, B, *x_shape), y is (R, B)."""

    x: torch.Tensor
    y: torch.Tensor | None = None

    def to(self, device: torch.device) -> Batch:
        return Batch(self.x.to(device, non_blocking=True),
                     None if self.y is None else self.y.to(device, non_blocking=True))


Preset = Mapping[str, Any] | Callable[[DataSpec], Mapping[str, Any]]


class Model(nn.Module):
    """Base class of every genzoo model. Subclasses set the class attributes below."""

    name: ClassVar[str] = ""
    Config: ClassVar[type] = type(None)  # a dataclass; its defaults are the "default" preset
    capabilities: ClassVar[frozenset[str]] = frozenset()
    vectorized: ClassVar[bool] = False  # True when one instance trains many seeds at once
    presets: ClassVar[dict[str, Preset]] = {}  # preset name -> overrides of Config defaults
    prior_name: ClassVar[str] = "N(0, I)"  # what sample_prior draws, as figures and reports say

    def __init__(self, config: Any, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__()
        if not seeds:
            raise GenzooError("a model needs at least one seed")
        if len(seeds) > 1 and not self.vectorized:
            raise GenzooError(f"model {self.name!r} is not vectorized; build one per seed")
        self.config = config
        self.data = data
        self.seeds = [int(s) for s in seeds]
        self.noise = ReplicaRNG(self.seeds, "noise")

    # --- declaration -------------------------------------------------------------------------

    @classmethod
    def check_declaration(cls) -> None:
        """Raise PluginError if the class attributes are not a usable declaration."""
        if not cls.name or not isinstance(cls.name, str):
            raise PluginError(f"{cls.__qualname__} must set a non-empty string `name`")
        if not dataclasses.is_dataclass(cls.Config):
            raise PluginError(f"model {cls.name!r}: `Config` must be a dataclass")
        unknown = set(cls.capabilities) - CAPABILITIES
        if unknown:
            raise PluginError(f"model {cls.name!r} declares unknown capabilities "
                              f"{sorted(unknown)}; known: {sorted(CAPABILITIES)}")
        needed = {"sample": "sample", "encode": "encode", "classify": "classify",
                  "features": "features", "guide": "sample_scored"}
        for cap, method in needed.items():
            if cap in cls.capabilities and getattr(cls, method) is getattr(Model, method):
                raise PluginError(f"model {cls.name!r} declares {cap!r} but does not "
                                  f"define {method}()")

    @classmethod
    def upgrade_config(cls, recorded: dict[str, Any], data: DataSpec) -> dict[str, Any]:
        """A run's recorded settings (its config.json ``model_config``) as this version of the
        model reads them. Override when a setting's meaning changes, so that a run written
        before the change loads and trains as it did; the default returns them unchanged."""
        return recorded

    @classmethod
    def preset_names(cls) -> list[str]:
        return sorted({"default", *cls.presets})

    @classmethod
    def make_config(cls, data: DataSpec, preset: str = "default",
                    overrides: Mapping[str, Any] | None = None) -> Any:
        """The Config for ``preset`` on ``data``, with ``overrides`` applied last."""
        if preset != "default" and preset not in cls.presets:
            raise GenzooError(f"model {cls.name!r} has no preset {preset!r} "
                              f"(presets: {', '.join(cls.preset_names())})")
        layer = cls.presets.get(preset, {})
        if callable(layer):
            layer = layer(data)
        return config_lib.build(cls.Config, dict(layer), dict(overrides or {}))

    # --- shape -------------------------------------------------------------------------------

    @property
    def replicas(self) -> int:
        return len(self.seeds)

    @property
    def device(self) -> torch.device:
        return next((t.device for t in self.parameters()), torch.device("cpu"))

    # --- training ----------------------------------------------------------------------------

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers ``train_step`` steps, by name; checkpoints save their state."""
        return {}

    def training_data(self, dataset: Any) -> Any:
        """The dataset the trainer draws training batches from: ``dataset`` itself, or a
        wrapper (semi-supervised ALI draws [unlabelled; labelled] batches through
        ``genzoo.data.labelled.LabelledSubset``). Evaluation always reads ``dataset``."""
        return dataset

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        """One optimisation step on ``batch``. Returns scalar metrics, each of shape (R,).

        ``step`` counts from 0; ``total_steps`` lets multi-phase models (train a GAN, then its
        encoder) place their phases. The model steps its own optimizers in its own order.
        """
        raise NotImplementedError

    # --- capabilities ------------------------------------------------------------------------

    def sample(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        raise GenzooError(f"model {self.name!r} cannot sample")

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        raise GenzooError(f"model {self.name!r} has no encoder")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise GenzooError(f"model {self.name!r} has no decoder")

    def reconstruct(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, rng))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        raise GenzooError(f"model {self.name!r} cannot classify")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise GenzooError(f"model {self.name!r} has no feature extractor")

    def sample_scored(self, n: int, rng: ReplicaRNG | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        raise GenzooError(f"model {self.name!r} has no discriminator to guide its samples")

    def score_data(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        raise GenzooError(f"model {self.name!r} has no discriminator to score data")

    def score_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise GenzooError(f"model {self.name!r} cannot score given latents (it defines no "
                          f"score_latent), so it cannot use --sampler langevin")

    # --- the prior -----------------------------------------------------------------------------

    @property
    def z_dim(self) -> int | None:
        """The latent's size: set ``self.z_dim``, or the config's ``z_dim`` field is read;
        None for a model with neither."""
        z = self.__dict__.get("_z_dim", getattr(self.config, "z_dim", None))
        return None if z is None else int(z)

    @z_dim.setter
    def z_dim(self, value: int | None) -> None:
        self.__dict__["_z_dim"] = value

    def sample_prior(self, n: int, rng: ReplicaRNG | None = None) -> torch.Tensor:
        """z ~ p(z), shape (R, n, z_dim), each replica from its own stream of ``rng`` (the
        model's noise when None). Override it, with ``prior_name``, for another prior; the
        host's evaluators and figures compare q(z) against what this draws."""
        if self.z_dim is None:
            raise UndeclaredPrior(f"model {self.name!r} declares no z_dim (in its config or "
                                  f"as self.z_dim); set one or override sample_prior()")
        return (rng or self.noise).randn(n, self.z_dim).to(self.device)

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z), shape (R, n), for z (R, n, z_dim): the standard normal's, unless the model
        overrides ``sample_prior`` (then it must override this as well)."""
        if type(self).sample_prior is not Model.sample_prior:
            raise UndeclaredPrior(f"model {self.name!r} overrides sample_prior but not "
                                  f"prior_log_prob; define both for --sampler langevin")
        return -0.5 * (z.square().sum(-1) + z.shape[-1] * math.log(2 * math.pi))

    def schedules(self) -> list[str]:
        """What in this model's training depends on the run's total steps, in words (for the
        warning when ``--resume --steps`` moves the horizon); [] when nothing does. The default
        reads the settings genzoo's models share (``lr_decay``, ``instance_noise``); a model
        with schedules of its own overrides it."""
        c = self.config
        out = []
        if getattr(c, "lr_decay", "none") != "none":
            out.append("learning-rate decay")
        if getattr(c, "instance_noise", 0) > 0:
            out.append("annealed instance noise")
        return out

    def can(self, capability: str) -> bool:
        return capability in self.capabilities
