"""ALI (Dumoulin et al. 2016): an encoder and a decoder against a discriminator on (x, z)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genzoo.core.errors import GenzooError
from genzoo.core.model import Batch, DataSpec, Model
from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common import conditioning, k_plus_one, networks, toy_nets
from genzoo_plugins.common.conditioning import ConditionFields
from genzoo_plugins.common.config import (
    PAPER_DECODER,
    PAPER_ENCODER,
    PAPER_GAME,
    PAPER_JOINT,
    AveragingFields,
    DecoderFields,
    EncoderFields,
    GameFields,
    ImageFields,
    JointDiscriminatorFields,
    UnaryFields,
)
from genzoo_plugins.common.game import Game, Pairs
from genzoo_plugins.common.image_presets import by_kind, image_default, image_paper, toy_default


@dataclass
class ALIConfig(ImageFields, AveragingFields, GameFields, UnaryFields, JointDiscriminatorFields,
                EncoderFields, DecoderFields, ConditionFields):
    """ALI's settings; the defaults (the ``default`` preset) are tuned for a 2-core CPU."""


# the original toy code's settings (the ``paper`` preset on toy data)
PAPER_TOY = {**PAPER_DECODER, **PAPER_ENCODER, **PAPER_JOINT, **PAPER_GAME}


class ALI(Model):
    """Adversarially learned inference: G_z(x) and G_x(z) against D(x, z) (Eq. 1 and 4).

    Conditional ALI (``condition`` labels/attributes, §4.4, Eq. 7): G_z(x, y), G_x(z, y) and
    D(x, z, y), with the data's y on both sides (``conditioning``). ``sample``, ``encode``,
    ``decode``, ``reconstruct`` and ``features`` take an optional ``y`` — class indices (R, n)
    or (n,), or 0/1 attributes (R, n, A) or (n, A). Given none, a conditional model draws y
    from the training data's marginal (``conditioning.Marginal``) with the call's rng
    (sample, encode, reconstruct) or uses its mean (decode, features).

    Semi-supervised ALI (``labels`` > 0, §4.3): D has K+1 outputs (``k_plus_one``), batches
    come as [unlabelled; labelled] (``training_data``), and ``classify`` gives the K class
    logits of D(x, E[z | x]).
    """

    name = "ali"
    Config = ALIConfig
    capabilities = frozenset({"sample", "encode", "reconstruct", "features", "guide"})
    vectorized = True
    presets = {"default": by_kind(ALIConfig, toy_default, image_default),
               "paper": by_kind(ALIConfig, PAPER_TOY, image_paper)}

    def __init__(self, config: ALIConfig, data: DataSpec, seeds: Sequence[int] = (0,)):
        super().__init__(config, data, seeds)
        c = config
        self.y_dim = conditioning.y_dim(c, data)
        _check_extensions(c, data, self.y_dim)
        self.marginal = (conditioning.Marginal(len(self.seeds), self.y_dim, c.condition)
                         if self.y_dim else None)
        if c.labels:
            self.capabilities = ALI.capabilities | {"classify"}
        if c.labels or self.y_dim or c.disc_pack != 1:
            # D's logit is then not one density ratio per (x, z): K+1 classes, a y it also
            # needs, or one logit per PacGAN group
            self.capabilities = self.capabilities - {"guide"}
        init = ReplicaRNG(self.seeds, "init")
        self.decoder = networks.decoder(init, self.noise, c, data)
        self.encoder = networks.encoder(init, self.noise, c, data)
        self.discriminator = networks.joint_discriminator(init, self.noise, c, data)
        lr_d = c.lr if c.lr_d is None else c.lr_d
        self.opt_d = toy_nets.adam(self.discriminator.parameters(), lr_d, (c.beta1, c.beta2))
        self.opt_g = toy_nets.adam([*self.encoder.parameters(), *self.decoder.parameters()],
                                   c.lr, (c.beta1, c.beta2))
        # the moving averages of G_x and G_z that evaluation uses (ema_decay > 0); built after
        # every trained network, so their weights start from the same values either way
        self.ema: nn.ModuleDict | None = None
        if c.ema_decay > 0:
            spare = ReplicaRNG(self.seeds, "init_extra")  # values replaced just below
            self.ema = nn.ModuleDict({
                "decoder": networks.decoder(spare, self.noise, c, data),
                "encoder": networks.encoder(spare, self.noise, c, data)})
            self.ema.load_state_dict({f"{k}.{n}": t for k in ("decoder", "encoder")
                                      for n, t in getattr(self, k).state_dict().items()})
            self.ema.requires_grad_(False)
        game = k_plus_one.ClassGame if c.labels else Game
        self.game = game(self.discriminator, self.opt_d, self.opt_g, c, networks.x_dim(data),
                         self.noise)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"discriminator": self.opt_d, "generator": self.opt_g}

    def training_data(self, dataset: Any) -> Any:
        if not self.config.labels:
            return dataset
        from genzoo.data.labelled import LabelledSubset

        # the labelled subset is fixed by the run's first seed
        return LabelledSubset(dataset, self.config.labels, self.seeds[0])

    def _net(self, name: str) -> nn.Module:
        """G_x or G_z: the trained one in training mode, else its moving average if kept."""
        if self.ema is not None and not self.training:
            return self.ema[name]
        return getattr(self, name)

    def _enc(self, x: torch.Tensor, rng: ReplicaRNG, y: torch.Tensor | None) -> torch.Tensor:
        enc = self._net("encoder")
        return enc(x, rng) if y is None else enc(x, rng, y)

    def _dec(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        dec = self._net("decoder")
        return dec(z) if y is None else dec(z, y)

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None:
            return
        for name in ("decoder", "encoder"):
            live, avg = getattr(self, name), self.ema[name]
            torch._foreach_lerp_(list(avg.parameters()), list(live.parameters()),
                                 1.0 - self.config.ema_decay)
            for a, b in zip(avg.buffers(), live.buffers(), strict=True):
                a.copy_(b)  # BatchNorm's running statistics: the trained network's

    def pairs(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Pairs:
        """(x, z_hat ~ q(z|x)) and (x_tilde ~ p(x|z), z ~ p(z)): D's inputs, with graphs;
        conditional: (x, z_hat, y) and (x_tilde, z, y) with G_z and G_x given y too."""
        z = self.sample_prior(x.shape[1], self.noise)
        z_hat = self._enc(x, self.noise, y)
        real = [networks.flat(x), z_hat]
        fake = [networks.flat(self._dec(z, y)), z]
        if y is not None:
            real.append(y)
            fake.append(y)
        return torch.cat(real, dim=-1), torch.cat(fake, dim=-1)

    def train_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        metrics = self._game_step(batch, step, total_steps)
        self._update_ema()
        return metrics

    def _game_step(self, batch: Batch, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        progress = step / total_steps
        if self.config.labels:  # semi-supervised: the K+1-class game reads the batch's labels
            assert isinstance(self.game, k_plus_one.ClassGame)
            return self.game.step_labelled(self.pairs, batch, step, progress)
        if self.marginal is not None:  # conditional: the data's y on both sides of every pair
            y = self.marginal.observe(batch.y, self.y_dim, self.data.name)
            return self.game.step(lambda x: self.pairs(x, y), batch.x, step, progress)
        return self.game.step(self.pairs, batch.x, step, progress)

    def _y(self, y: Any, n: int, rng: ReplicaRNG | None) -> torch.Tensor | None:
        """The y vector (R, n, y_dim) for a call given ``y`` (or None: see the class doc)."""
        if self.marginal is None:
            if y is not None:
                raise GenzooError("this ali run is not conditional (condition=none): it "
                                  "takes no y")
            return None
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
        z = self.sample_prior(n, rng)
        return self._dec(z, self._y(y, n, rng))

    def sample_scored(self, n: int, rng: ReplicaRNG | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draws G_x(z) with D's logit at their pair (G_x(z), z): log q(x, z) / p(x, z)."""
        return self.score_latent(self.sample_prior(n, rng or self.noise))

    def score_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """G_x(z) and D's logit at the pair (G_x(z), z)."""
        x = self._dec(z, None)
        return x, self.discriminator(torch.cat([networks.flat(x), z], -1))[..., 0]

    def score_data(self, x: torch.Tensor, rng: ReplicaRNG | None = None) -> torch.Tensor:
        """D's logit at real pairs (x, z ~ q(z | x))."""
        z = self._enc(x, rng or self.noise, None)
        return self.discriminator(torch.cat([networks.flat(x), z], -1))[..., 0]

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
        if self.marginal is not None:
            return self._net("encoder").features(x, self._y(y, x.shape[1], None))
        return networks.encoder_features(self._net("encoder"), x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Semi-supervised runs: the K class logits of D(x, posterior mean of z) (R, n, K)."""
        if not self.config.labels:
            raise GenzooError("this ali run cannot classify: train it semi-supervised with "
                              "--labels N")
        if self.encoder.kind == "gaussian":
            z = self.encoder.posterior(x)[0]
        else:
            z = self.encoder.params(x)
        return self.discriminator(torch.cat([networks.flat(x), z], dim=-1))[..., :-1]


def _check_extensions(c: ALIConfig, data: DataSpec, y_dim: int) -> None:
    """Refuse settings the conditional and semi-supervised games do not support."""
    if c.unary_scores and (y_dim or c.labels):  # (the Game refuses the simultaneous order)
        raise GenzooError("unary scores (BigBiGAN) are for the unconditional game: drop "
                          "--labels and --condition")
    if (y_dim or c.labels) and c.d_steps != 1:
        raise GenzooError("conditional and semi-supervised ALI take one D update per step: "
                          "--set d_steps=1")
    if not c.labels:
        return
    if data.kind != "image" or data.num_classes <= 0 or data.attributes:
        raise GenzooError(f"semi-supervised ALI (--labels) needs an image dataset with class "
                          f"labels; {data.name!r} has none")
    if y_dim:
        raise GenzooError("semi-supervised ALI (--labels) is not conditional: drop "
                          "--condition")
    if c.update_order == "simultaneous" or c.r1_gamma > 0 or c.disc_pack != 1:
        raise GenzooError("semi-supervised ALI's K+1-class D takes update_order=d_then_g or "
                          "g_then_d, r1_gamma=0 and disc_pack=1")
