"""The adversarial game shared by GAN, ALI, BiGAN and post-hoc inference: losses and one step.

D outputs a logit l; D(.) = sigmoid(l). With "real" pairs from q (data, or (x, G_z(x)) in ALI)
and "fake" pairs from p (G_x(z), or (G_x(z), z)):

- D loss (minus Eq. 1):   softplus(-l_real) + softplus(l_fake)
- saturating G (Eq. 1):  -softplus(-l_real) - softplus(l_fake)   (= minus the D loss)
- non-saturating (Eq. 4): softplus(l_real) + softplus(-l_fake)

Every loss is a per-replica mean over the batch, shape (R,); replicas are summed before
backward, which keeps their gradients apart because no parameter is shared between replicas.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.core.errors import GenzooError
from genzoo.core.rng import ReplicaRNG
from genzoo_plugins.common.config import GameFields

Pairs = tuple[torch.Tensor, torch.Tensor]  # (real, fake), each (R, B, features)


def d_loss(l_real: torch.Tensor, l_fake: torch.Tensor) -> torch.Tensor:
    """Minus the value function of Eq. 1, per replica: logits (R, B) -> (R,)."""
    return F.softplus(-l_real).mean(1) + F.softplus(l_fake).mean(1)


def g_loss(l_real: torch.Tensor, l_fake: torch.Tensor, kind: str) -> torch.Tensor:
    """The generator side's loss, per replica: Eq. 4 (non-saturating) or Eq. 1 (saturating)."""
    if kind == "nonsaturating":
        return F.softplus(l_real).mean(1) + F.softplus(-l_fake).mean(1)
    return -d_loss(l_real, l_fake)


def _g_over_d_slope(l_real: torch.Tensor, l_fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Per sample, dL_G/dl divided by dL_D/dl, shape (R, 2B).

    Saturating: -1. Non-saturating: sigmoid(l) / -sigmoid(-l) = -exp(l) on real pairs and
    -sigmoid(-l) / sigmoid(l) = -exp(-l) on fake pairs (clamped so 0 * inf cannot occur).
    """
    if kind == "saturating":
        return torch.full((l_real.shape[0], l_real.shape[1] + l_fake.shape[1]), -1.0,
                          dtype=l_real.dtype, device=l_real.device)
    return -torch.cat([l_real, -l_fake], dim=1).clamp(max=80.0).exp()


def lr_scale(progress: float, kind: str, start: float) -> float:
    """Learning-rate multiplier at ``progress`` in [0, 1) of the training phase."""
    if kind == "none" or progress < start:
        return 1.0
    t = (progress - start) / max(1.0 - start, 1e-12)
    return 1.0 - t if kind == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))


class Game:
    """One update of a discriminator against a generator side (whatever produces the pairs).

    ``step(make_pairs, x, index, progress)`` splits the real batch ``x`` (R, B, ...) into
    ``d_steps`` equal slices. Each slice but the last gives one extra D update on pairs made
    without a graph; the last gives the main update, where ``make_pairs(slice)`` returns
    (real, fake) inputs of D carrying the generator side's autograd graph, and D and the
    generator side are updated in the configured order. The simultaneous order (the original
    code's) needs one forward and one backward pass through D: D is a per-sample function (no
    BatchNorm), so the generator's gradient at each pair is the D loss's gradient there times
    the scalar slope ratio above.

    A D with a parameter-free ``front`` (toy D's Fourier features; ``judge`` is the rest) has
    it computed once per step, for both updates. Where one half of the pairs carries no graph
    of the generator side (the GAN's data, post-hoc inference's frozen decoder), the generator
    update judges only the other half: the fixed half's terms of its loss are constants, so
    its ``loss_g`` is the moving half's terms alone.

    Instance noise (Sønderby et al. 2016), when configured, adds N(0, s^2) to the first
    ``x_dim`` features of every real and fake pair D sees, with s annealed linearly from
    ``instance_noise`` to 0 at ``instance_noise_until`` of the phase: D first compares blurred
    densities (smooth, global gradients that spread the generator over all modes), then
    sharpens.
    """

    def __init__(self, disc: nn.Module, opt_d: torch.optim.Optimizer,
                 opt_g: torch.optim.Optimizer, config: GameFields, x_dim: int,
                 noise: ReplicaRNG):
        self.disc, self.opt_d, self.opt_g, self.config = disc, opt_d, opt_g, config
        self.x_dim, self.noise = x_dim, noise
        self.pack = getattr(disc, "pack", 1)  # PacGAN: D gives one logit per group of pack
        self.has_front = hasattr(disc, "front") and hasattr(disc, "judge")
        self.lr_g = config.lr
        self.lr_d = config.lr if config.lr_d is None else config.lr_d
        self.index = 0  # the training step being taken (lazy R1 keys on it)
        self.blur = 0.0  # the instance-noise std of the current step
        # an extra loss of the generator side (R,), added to its adversarial loss in every
        # update order, called after the step's last make_pairs (ALICE's cycle terms)
        self.extra_g: Callable[[], torch.Tensor] | None = None
        # BigBiGAN's unary scores: D gives (s_xz, s_x, s_z) per pair, and each loss is the
        # weighted sum of the three scores' own losses
        self.head_weights: tuple[float, ...] | None = None
        if getattr(config, "unary_scores", False):
            if config.update_order == "simultaneous":
                raise GenzooError("unary scores need an alternating update: --set "
                                  "update_order=d_then_g")
            w = float(getattr(config, "unary_weight", 1.0))
            self.head_weights = (1.0, w, w)

    def _generator_backward(self, features: torch.Tensor, grad: torch.Tensor) -> None:
        """Backward of the generator side's loss: ``grad`` into ``features`` (its graph to the
        generator side), plus ``extra_g``'s loss."""
        extra = self.extra_g() if self.extra_g is not None else None
        if extra is None:
            if features.requires_grad:
                features.backward(grad)
            return
        if features.requires_grad:
            torch.autograd.backward([features, extra.sum()], [grad, None])
        else:
            extra.sum().backward()

    def _set_lr(self, progress: float) -> None:
        s = lr_scale(progress, self.config.lr_decay, self.config.decay_start)
        for opt, base in ((self.opt_d, self.lr_d), (self.opt_g, self.lr_g)):
            for group in opt.param_groups:
                group["lr"] = base * s

    def _blurred(self, pairs: Pairs) -> Pairs:
        if self.blur <= 0:
            return pairs
        return tuple(self._add_noise(t) for t in pairs)  # type: ignore[return-value]

    def _add_noise(self, t: torch.Tensor) -> torch.Tensor:
        eps = self.noise.randn(t.shape[1], self.x_dim).to(t.device) * self.blur
        if t.shape[-1] == self.x_dim:
            return t + eps
        return torch.cat([t[..., :self.x_dim] + eps, t[..., self.x_dim:]], dim=-1)

    def _logits(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.disc(pairs).squeeze(-1)

    def _front(self, pairs: torch.Tensor) -> torch.Tensor:
        """D's parameter-free front (or the pairs themselves): the input of ``_judge``."""
        return self.disc.front(pairs) if self.has_front else pairs

    def _judge(self, features: torch.Tensor) -> torch.Tensor:
        return (self.disc.judge(features) if self.has_front else self.disc(features)).squeeze(-1)

    # The two losses on D's logits for [real; fake] pairs, the first b real; a subclass with
    # another D (k_plus_one.ClassGame: K+1 classes) replaces them and keeps the update orders.
    def loss_d(self, logits: torch.Tensor, b: int) -> torch.Tensor:
        return self._over_heads(lambda lg: d_loss(lg[:, :b], lg[:, b:]), logits)

    def loss_g(self, logits: torch.Tensor, b: int) -> torch.Tensor:
        kind = self.config.generator_loss
        return self._over_heads(lambda lg: g_loss(lg[:, :b], lg[:, b:], kind), logits)

    def _over_heads(self, loss: Callable[[torch.Tensor], torch.Tensor],
                    logits: torch.Tensor) -> torch.Tensor:
        """``loss`` of the logits (R, N), or with unary scores the weighted sum of it over the
        score heads of logits (R, N, 3)."""
        if self.head_weights is None:
            return loss(logits)
        return sum(w * loss(logits[..., k]) for k, w in enumerate(self.head_weights)
                   if w)  # type: ignore[return-value]

    # The generator side's loss on one half alone (the other half is constant for it); a game
    # whose loss_g does not split by halves sets half_losses = False.
    half_losses = True

    def loss_g_half(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        sign = 1.0 if real else -1.0  # l_real's terms at +l, l_fake's at -l
        if self.config.generator_loss == "nonsaturating":
            return self._over_heads(lambda lg: F.softplus(sign * lg).mean(1), logits)
        return self._over_heads(lambda lg: -F.softplus(-sign * lg).mean(1), logits)

    def _d_backward(self, real: torch.Tensor,
                    features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Backward of the D loss (plus R1) into D's grads and ``features.grad``, from D's
        front of [real; fake]; returns (loss_d, logits)."""
        logits = self._judge(features)
        loss = self.loss_d(logits, real.shape[1] // self.pack)
        self.opt_d.zero_grad(set_to_none=True)
        loss.sum().backward()
        self._r1(real)
        return loss.detach(), logits.detach()

    def _r1(self, real: torch.Tensor) -> None:
        """Adds the R1 penalty's gradient (Mescheder et al. 2018) to D's grads."""
        c = self.config
        if c.r1_gamma <= 0 or self.index % c.r1_every:
            return
        x = real.detach().requires_grad_(True)
        logits = self._logits(x)
        if self.head_weights is not None:  # the penalty follows the loss: scores weighted
            logits = logits @ logits.new_tensor(self.head_weights)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        # per D input (a group of pack samples): the squared gradient summed over its members
        penalty = 0.5 * c.r1_gamma * c.r1_every * self.pack * grad.square().sum(-1).mean(1)
        # into D's weights only: the data's own gradient would cost a pass and is thrown away
        penalty.sum().backward(inputs=[p for p in self.disc.parameters() if p.requires_grad])

    def _d_step(self, real: torch.Tensor, fake: torch.Tensor,
                features: torch.Tensor | None = None) -> torch.Tensor:
        """One D update on (real, fake), or on their front ``features`` when given."""
        if features is None:
            with torch.no_grad():
                features = self._front(torch.cat([real, fake], dim=1))
        loss, _ = self._d_backward(real, features.detach())
        self.opt_d.step()
        return loss

    def _one_half_moves(self, real: torch.Tensor, fake: torch.Tensor) -> bool:
        return self.half_losses and real.requires_grad != fake.requires_grad

    def _g_backward(self, real: torch.Tensor, fake: torch.Tensor,
                    features: torch.Tensor | None = None) -> torch.Tensor:
        """Backward of the G loss into the generator side only (D's weights get no grads).
        ``features``: D's front of [real; fake] with the generator side's graph, if made."""
        if self._one_half_moves(real, fake):
            moving = real if real.requires_grad else fake
            features = self._front(moving)
            leaf = features.detach().requires_grad_(True)
            loss = self.loss_g_half(self._judge(leaf), real=moving is real)
        else:
            if features is None:
                features = self._front(torch.cat([real, fake], dim=1))
            leaf = features.detach().requires_grad_(True)
            loss = self.loss_g(self._judge(leaf), real.shape[1] // self.pack)
        loss.sum().backward(inputs=[leaf])  # input gradients only: D's weights get none
        self.opt_g.zero_grad(set_to_none=True)
        assert leaf.grad is not None
        self._generator_backward(features, leaf.grad)
        return loss.detach()

    def step(self, make_pairs: Callable[[torch.Tensor], Pairs], x: torch.Tensor, index: int,
             progress: float) -> dict[str, torch.Tensor]:
        """One update at step ``index`` of the phase, ``progress`` in [0, 1) through it.

        The default order, ``d_then_g``, read top to bottom: the pairs (x, G_z(x)) and
        (G_x(z), z) with their graphs; D's parameter-free front of both halves once (speed:
        both updates reuse it); D's update on ``d_loss`` (plus lazy R1 every ``r1_every``
        steps); then the generator side's update on ``g_loss`` through the updated D, whose
        backward goes into D's inputs only (speed: D's weights get no gradient there).
        """
        c = self.config
        self._schedule(index, progress)
        x = self._extra_d_updates(make_pairs, x)  # d_steps > 1: all slices but the last
        if c.update_order == "simultaneous":
            return self._simultaneous(*self._blurred(make_pairs(x)))
        if c.update_order == "g_then_d":
            return self._g_then_d(make_pairs, x)
        real, fake = self._blurred(make_pairs(x))
        if self._one_half_moves(real, fake):  # D's front without a graph; G makes its own
            loss_d = self._d_step(real, fake)
            loss_g = self._g_backward(real, fake)
        else:
            features = self._front(torch.cat([real, fake], dim=1))
            loss_d = self._d_step(real, fake, features)
            loss_g = self._g_backward(real, fake, features)
        self.opt_g.step()
        return {"loss_d": loss_d, "loss_g": loss_g}

    def _schedule(self, index: int, progress: float) -> None:
        """The step's learning rates and instance-noise std (and R1's step index)."""
        c = self.config
        self.index = index
        self._set_lr(progress)
        self.blur = c.instance_noise * max(0.0, 1.0 - progress / max(c.instance_noise_until,
                                                                      1e-12))

    def _extra_d_updates(self, make_pairs: Callable[[torch.Tensor], Pairs],
                         x: torch.Tensor) -> torch.Tensor:
        """``d_steps`` - 1 D updates on all slices of ``x`` but the last, which it returns."""
        if self.config.d_steps == 1:
            return x
        slices = x.chunk(self.config.d_steps, dim=1)
        for part in slices[:-1]:
            with torch.no_grad():
                pairs = self._blurred(make_pairs(part))
            self._d_step(*pairs)
        return slices[-1]

    def _g_then_d(self, make_pairs: Callable[[torch.Tensor], Pairs],
                  x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The generator side first; D then learns against pairs from its updated weights."""
        real, fake = self._blurred(make_pairs(x))
        loss_g = self._g_backward(real, fake)
        self.opt_g.step()
        with torch.no_grad():
            real, fake = self._blurred(make_pairs(x))
        loss_d = self._d_step(real, fake)
        return {"loss_d": loss_d, "loss_g": loss_g}

    def _simultaneous(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        b = real.shape[1] // self.pack
        features = self._front(torch.cat([real, fake], dim=1))
        leaf = features.detach().requires_grad_(True)
        loss_d, logits = self._d_backward(real, leaf)
        l_real, l_fake = logits[:, :b], logits[:, b:]
        self.opt_g.zero_grad(set_to_none=True)
        slope = _g_over_d_slope(l_real, l_fake, self.config.generator_loss)
        if self.pack > 1:  # one logit per group: each member gets its group's slope
            slope = slope.repeat_interleave(self.pack, dim=1)
        assert leaf.grad is not None
        self._generator_backward(features, leaf.grad * slope.unsqueeze(-1))
        self.opt_d.step()
        self.opt_g.step()
        return {"loss_d": loss_d,
                "loss_g": g_loss(l_real, l_fake, self.config.generator_loss)}
