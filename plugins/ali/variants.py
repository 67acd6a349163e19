"""Conditional ALI (§4.4, Eq. 7) and semi-supervised ALI (§4.3): ALI's subclasses.

``ALI.__new__`` builds one of them when the config asks (``condition``, ``labels``); for a
model built on ALI (bigan, bigbigan) it builds that model with the variant in front, so each
of them can be conditional or semi-supervised the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch

from genzoo.core.errors import GenzooError
from genzoo.core.model import Batch, DataSpec
from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.ali.model import ALI, ALIConfig
from genzoo_plugins.common import conditioning, k_plus_one, networks
from genzoo_plugins.common.game import Pairs


def for_config(cls: type[ALI], config: ALIConfig) -> type[ALI]:
    """The class to build for ``config``: ``cls`` itself, or ``cls`` with a variant in front."""
    variant = (SemiSupervisedALI if config.labels else
               ConditionalALI if config.condition != "none" else None)
    if variant is None or issubclass(cls, variant) or not cls.variants:
        return cls
    return variant if cls is ALI else _with(variant, cls)


@functools.cache
def _with(variant: type[ALI], cls: type[ALI]) -> type[ALI]:
    name = f"{variant.__name__.removesuffix('ALI')}{cls.__name__}"  # ConditionalBiGAN, ...
    made = type(name, (variant, cls), {"__doc__": f"{cls.__name__}, {variant.summary}",
                                       "__module__": __name__, "__qualname__": name})
    globals()[name] = made  # where pickle looks for it
    return made


def __getattr__(name: str) -> type[ALI]:
    """A variant of a model built on ALI, by name, made on demand (pickle in a new process)."""
    variants = [v for v in (ConditionalALI, SemiSupervisedALI)
                if name.startswith(v.__name__.removesuffix("ALI"))]
    if variants:  # only then load every model, so the one this name is built on is known
        from genzoo.core import plugins

        plugins.registry()
    for variant in variants:
        prefix = variant.__name__.removesuffix("ALI")
        for cls in _built_on_ali(ALI):
            if name == prefix + cls.__name__ and not issubclass(cls, variant):
                return _with(variant, cls)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _built_on_ali(cls: type[ALI]) -> list[type[ALI]]:
    subs = cls.__subclasses__()
    return subs + [s for sub in subs for s in _built_on_ali(sub)]


def _no_other_change(c: ALIConfig) -> None:
    """What the conditional and semi-supervised games do not support."""
    if c.unary_scores:  # (the Game refuses the simultaneous order)
        raise GenzooError("unary scores (BigBiGAN) are for the unconditional game: drop "
                          "--labels and --condition")
    if c.d_steps != 1:
        raise GenzooError("conditional and semi-supervised ALI take one D update per step: "
                          "--set d_steps=1")


class ConditionalALI(ALI):
    """ALI conditioned on y (§4.4, Eq. 7): G_z(x, y), G_x(z, y) and D(x, z, y), with the
    data's y on both sides of every pair (``conditioning``).

    ``sample``, ``encode``, ``decode``, ``reconstruct`` and ``features`` take an optional
    ``y`` — class indices (R, n) or (n,), or 0/1 attributes (R, n, A) or (n, A). Given none,
    the model draws y from the training data's marginal (``conditioning.Marginal``) with the
    call's rng (sample, encode, reconstruct) or uses its mean (decode, features).
    """

    summary = "conditioned on y (§4.4)"

    def __init__(self, config: ALIConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        _no_other_change(config)
        super().__init__(config, data, seeds)
        self.y_dim = conditioning.y_dim(config, data)
        self.capabilities = self.capabilities - {"guide"}  # D's logit needs a y too
        self.marginal = conditioning.Marginal(len(self.seeds), self.y_dim, config.condition)

    def pairs(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Pairs:
        """(x, z_hat, y) and (x_tilde, z, y), G_z and G_x given y too."""
        assert y is not None
        z = self.sample_prior(x.shape[1], self.noise)
        return (torch.cat([networks.flat(x), self._enc(x, self.noise, y), y], dim=-1),
                torch.cat([networks.flat(self._dec(z, y)), z, y], dim=-1))

    def _game_step(self, batch: Batch, step: int, progress: float) -> dict[str, torch.Tensor]:
        y = self.marginal.observe(batch.y, self.y_dim, self.data.name)
        return self.game.step(lambda x: self.pairs(x, y), batch.x, step, progress)

    def _enc(self, x: torch.Tensor, rng: ReplicaRNG, y: torch.Tensor | None = None
             ) -> torch.Tensor:
        return self._net("encoder")(x, rng, y)

    def _dec(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self._net("decoder")(z, y)

    def _y(self, y: Any, n: int, rng: ReplicaRNG | None) -> torch.Tensor:
        """The y vector (R, n, y_dim) for a call given ``y`` (or None: see the class doc)."""
        if y is None:
            return (self.marginal.mean(n) if rng is None
                    else self.marginal.draw(n, rng.generators))
        y = torch.as_tensor(y)
        if y.dim() == (1 if self.config.condition == "labels" else 2):  # no replica axis
            y = y.unsqueeze(0).expand(self.replicas, *y.shape)
        if y.shape[0] != self.replicas or y.shape[1] != n:
            raise GenzooError(f"y has shape {tuple(y.shape)}; expected {self.replicas} "
                              f"replica(s) by {n} examples")
        return conditioning.vector(y, self.config.condition, self.y_dim).to(self.device)

    def sample(self, n: int, rng: ReplicaRNG | None = None, y: Any = None) -> torch.Tensor:
        rng = rng or self.noise
        return self._dec(self.sample_prior(n, rng), self._y(y, n, rng))

    def encode(self, x: torch.Tensor, rng: ReplicaRNG | None = None,
               y: Any = None) -> torch.Tensor:
        rng = rng or self.noise
        return self._enc(x, rng, self._y(y, x.shape[1], rng))

    def decode(self, z: torch.Tensor, y: Any = None) -> torch.Tensor:
        return self._dec(z, self._y(y, z.shape[1], None))

    def reconstruct(self, x: torch.Tensor, rng: ReplicaRNG | None = None,
                    y: Any = None) -> torch.Tensor:
        rng = rng or self.noise
        yv = self._y(y, x.shape[1], rng)  # the same y for G_z and G_x
        return self._dec(self._enc(x, rng, yv), yv)

    def features(self, x: torch.Tensor, y: Any = None) -> torch.Tensor:
        return self._net("encoder").features(x, self._y(y, x.shape[1], None))


class SemiSupervisedALI(ALI):
    """Semi-supervised ALI (§4.3): D has K+1 outputs (``k_plus_one``), batches come as
    [unlabelled; labelled] (``training_data``), and ``classify`` gives the K class logits of
    D(x, E[z | x])."""

    summary = "semi-supervised (§4.3)"
    game_class = k_plus_one.ClassGame

    def __init__(self, config: ALIConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        _no_other_change(config)
        if data.kind != "image" or data.num_classes <= 0 or data.attributes:
            raise GenzooError(f"semi-supervised ALI (--labels) needs an image dataset with "
                              f"class labels; {data.name!r} has none")
        if config.condition != "none":
            raise GenzooError("semi-supervised ALI (--labels) is not conditional: drop "
                              "--condition")
        if config.update_order == "simultaneous" or config.r1_gamma > 0 \
                or config.disc_pack != 1:
            raise GenzooError("semi-supervised ALI's K+1-class D takes update_order=d_then_g "
                              "or g_then_d, r1_gamma=0 and disc_pack=1")
        super().__init__(config, data, seeds)
        self.capabilities = (self.capabilities | {"classify"}) - {"guide"}

    def training_data(self, dataset: Any) -> Any:
        from genzoo.data.labelled import LabelledSubset

        # the labelled subset is fixed by the run's first seed
        return LabelledSubset(dataset, self.config.labels, self.seeds[0])

    def _game_step(self, batch: Batch, step: int, progress: float) -> dict[str, torch.Tensor]:
        assert isinstance(self.game, k_plus_one.ClassGame)
        return self.game.step_labelled(self.pairs, batch, step, progress)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """The K class logits of D(x, posterior mean of z) (R, n, K)."""
        if self.encoder.kind == "gaussian":
            z = self.encoder.posterior(x)[0]
        else:
            z = self.encoder.params(x)
        return self.discriminator(torch.cat([networks.flat(x), z], dim=-1))[..., :-1]
