"""Discriminator-guided sampling: ``raw``, ``drs``, ``mh`` and ``langevin``.

A model that can be guided declares the ``guide`` capability and defines
``sample_scored(n, rng) -> (x, logit)``: generator draws (R, n, *x_shape) with its
discriminator's logit at each (R, n), and ``score_data(x, rng) -> logit`` (R, n) at real data.
For a D trained to its optimum D* = p_data / (p_data + p_model), ``exp(logit)`` estimates the
density ratio p_data / p_model (for ALI's joint D, q(x, z) / p(x, z), whose x-marginal
target is the data). The samplers reweight the generator by that ratio:

- ``drs`` (Azadi et al., ICLR 2019, Algorithm 1): accept a draw with probability
  σ(F), F = l − M − log(1 − exp(l − M − ε)) − γ, where M is the running maximum logit (from a
  burn-in of ``drs_burn_in`` draws, raised whenever a larger logit is seen) and γ the
  ``drs_percentile`` percentile of F over each batch (the paper's choice, 95). Since
  σ(F + γ) = exp(l − M), ``drs_percentile=0`` (γ = 0) is exact rejection sampling of
  p_model · exp(l) where l ≤ M; a γ > 0 trades that exactness for a higher acceptance.
- ``mh`` (Turner et al., ICML 2019): an independence Metropolis-Hastings chain per output
  sample: ``mh_steps`` generator proposals, each accepted with probability
  min(1, exp(l' − l)). D is first calibrated, as the paper does, by a logistic (Platt) fit of
  its logits on held-out real data against fresh draws, so that exp(l) is a ratio and not
  just a ranking. The chain starts from a generator draw, not from real data as the paper's
  does, so that no real example can be handed out as a sample when nothing is accepted.

- ``langevin`` (DDLS, Che et al., NeurIPS 2020; DGflow, Ansari et al., ICLR 2021): instead
  of choosing among draws, moves each latent along the energy
  E(z) = −w·log p(z) − l(G(z), z) by ``langevin_steps`` steps z ← z − η ∇E(z) + √(2ηT) ε,
  η = ``langevin_step``, T = ``langevin_temperature``, w = ``langevin_prior``. With w = 1,
  T = 1 and a small η this is DDLS, whose stationary law p(z) exp(l) is the data's where D is
  optimal; w = 0 is DGflow's flow along D alone. The defaults (w = 0, T = 0: a short
  deterministic flow that moves each draw toward the nearest region D calls real) were the
  best of a sweep on grid25 (docs/tuning.md): the prior's pull toward z = 0 and the noise both
  cost quality there, and a long or noisy chain lets mass drift between modes, which reverse
  KL guards. It needs the model's ``score_latent(z)`` (differentiable in z) and, with w > 0,
  ``prior_log_prob(z)``.

``Guided(model, sampler, dataset)`` is the model with ``sample`` replaced; every evaluator
that samples then scores the guided distribution, and ``acceptance`` counts what was accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.core.rng import ReplicaRNG

SAMPLERS = ("raw", "drs", "mh", "langevin")
GUIDED = ("drs", "mh", "langevin")
CAPABILITY = "guide"

# The samplers' options (``--eval-option KEY=VALUE``; other keys are the evaluators').
DEFAULTS: dict[str, float] = {
    "drs_burn_in": 10_000,   # draws per replica that set the first estimate of max logit
    "drs_percentile": 95.0,  # γ: this percentile of F in each batch
    "drs_eps": 1e-6,         # keeps log(1 − exp(·)) finite at the maximum
    "mh_steps": 20,          # proposals per chain (one chain per output sample)
    "mh_calibration": 2_000,  # held-out real examples (and as many draws) for the Platt fit
    "langevin_steps": 20,    # Langevin steps per latent
    "langevin_step": 0.015,  # η
    "langevin_temperature": 0.0,  # T: 1 is Langevin proper; 0 a deterministic flow
    "langevin_prior": 0.0,   # w, the prior's weight in the energy: 1 is DDLS, 0 DGflow
    "sampler_batch": 5_000,  # proposals per model call
    "sampler_max_proposals": 200,  # give up past this many proposals per requested sample
}

OPTION_BOUNDS = {"drs_percentile": "in 0..100", "langevin_temperature": ">= 0",
                 "langevin_prior": ">= 0"}  # others > 0


def check_sampler(name: str) -> str:
    if name not in SAMPLERS:
        raise GenzooError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return name


def refusal(model: Any, sampler: str) -> str | None:
    """Why ``model`` cannot use ``sampler`` (one line naming what it supports), or None."""
    check_sampler(sampler)
    if sampler == "raw":
        return None if model.can("sample") else f"model {model.name!r} cannot sample"
    if not model.can(CAPABILITY):
        supported = "raw" if model.can("sample") else "none"
        return (f"model {model.name!r} has no discriminator to guide its samples, so it "
                f"supports --sampler {supported} only (guided samplers: {', '.join(GUIDED)})")
    if sampler == "langevin":
        inner = getattr(model, "members", [model])[0]  # a ModelStack's members say
        if not callable(getattr(inner, "score_latent", None)) or \
                getattr(type(inner), "score_latent", None) is Model.score_latent:
            return (f"model {model.name!r} defines no score_latent(z), so it cannot move its "
                    f"latents along D's gradient; use --sampler drs or mh")
    return None


@dataclass
class Acceptance:
    """Proposals made and accepted, per replica, over a Guided model's life."""

    proposed: torch.Tensor
    accepted: torch.Tensor

    def rate(self) -> list[float]:
        return (self.accepted / self.proposed.clamp(min=1)).tolist()


class Guided:
    """``model`` with ``sample(n, rng)`` drawn by ``sampler``; everything else delegated."""

    def __init__(self, model: Any, sampler: str, dataset: Any = None,
                 options: dict[str, Any] | None = None):
        why = refusal(model, sampler)
        if why:
            raise GenzooError(why)
        self._model, self.sampler, self._dataset = model, sampler, dataset
        self.options = dict(DEFAULTS)
        for key, value in (options or {}).items():  # the evaluators' keys are theirs
            if key in DEFAULTS:
                try:
                    v = self.options[key] = float(value)
                except (TypeError, ValueError):
                    v = self.options[key] = -1.0
                bounds = OPTION_BOUNDS.get(key, "> 0")
                if not (0 <= v <= 100 if bounds == "in 0..100" else v >= 0 if bounds == ">= 0"
                        else v > 0):
                    raise GenzooError(f"{key} must be {bounds}, got {value!r}")
        zeros = torch.zeros(model.replicas)
        self.acceptance = Acceptance(zeros.clone(), zeros.clone())
        self._max_logit: torch.Tensor | None = None  # DRS's running max, per replica
        self._platt: tuple[torch.Tensor, torch.Tensor] | None = None  # MH's (a, b)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def sample(self, n: int, rng: ReplicaRNG | None = None, **kwargs: Any) -> torch.Tensor:
        if kwargs:
            raise GenzooError(f"guided sampling takes no {', '.join(kwargs)}")
        rng = rng or self._model.noise
        if self.sampler == "raw":
            return self._model.sample(n, rng)
        if self.sampler == "langevin":
            return self._langevin(n, rng)
        with torch.no_grad():
            return self._drs(n, rng) if self.sampler == "drs" else self._mh(n, rng)

    # --- DRS ---------------------------------------------------------------------------------

    def _draw(self, m: int, rng: ReplicaRNG) -> tuple[torch.Tensor, torch.Tensor]:
        x, logit = self._model.sample_scored(m, rng)
        want = (self._model.replicas, m)
        if tuple(logit.shape) != want:
            raise GenzooError(f"model {self._model.name!r}: sample_scored returned logits of "
                              f"shape {tuple(logit.shape)}, expected {want}")
        return x, logit.float()

    def _drs(self, n: int, rng: ReplicaRNG) -> torch.Tensor:
        o, reps = self.options, self._model.replicas
        batch = int(o["sampler_batch"])
        if self._max_logit is None:
            burn = [self._draw(min(batch, left), rng)[1].max(dim=1).values
                    for left in range(int(o["drs_burn_in"]), 0, -batch)]
            self._max_logit = torch.stack(burn).max(dim=0).values.cpu()
        kept: list[list[torch.Tensor]] = [[] for _ in range(reps)]
        have = torch.zeros(reps, dtype=torch.long)
        proposed = 0
        while bool((have < n).any()):
            if proposed >= o["sampler_max_proposals"] * n:
                raise GenzooError(f"{self.sampler} accepted only {have.min().item()} of {n} "
                                  f"samples within {int(o['sampler_max_proposals'])}x as many "
                                  f"proposals; its discriminator rejects nearly everything "
                                  f"(use --sampler raw)")
            x, logit = self._draw(batch, rng)
            proposed += batch
            logit = logit.cpu()
            self._max_logit = torch.maximum(self._max_logit, logit.max(dim=1).values)
            accept = drs_accept(logit, self._max_logit, o["drs_percentile"], o["drs_eps"],
                                rng.rand(batch).cpu())
            for r in range(reps):
                if have[r] < n:
                    take = x[r][accept[r].to(x.device)][: n - int(have[r])]
                    kept[r].append(take)
                    have[r] += len(take)
                    self.acceptance.proposed[r] += batch
                    self.acceptance.accepted[r] += int(accept[r].sum())
        return torch.stack([torch.cat(k)[:n] for k in kept])

    # --- MH ----------------------------------------------------------------------------------

    def _calibration(self, rng: ReplicaRNG) -> tuple[torch.Tensor, torch.Tensor]:
        if self._platt is None:
            if self._dataset is None:
                raise GenzooError("the mh sampler needs the dataset to calibrate its "
                                  "discriminator on held-out data")
            m = int(self.options["mh_calibration"])
            g = torch.Generator().manual_seed(int(rng.seeds[0]) + 7919)
            x, _ = self._dataset.draw(m, g, split="test")
            x = x.to(self._model.device).unsqueeze(0).expand(self._model.replicas, *x.shape)
            real = self._model.score_data(x, rng).float().cpu()
            fake = self._draw(m, rng)[1].cpu()
            self._platt = platt(real, fake)
        return self._platt

    def _mh(self, n: int, rng: ReplicaRNG) -> torch.Tensor:
        a, b = self._calibration(rng)
        state, logit = self._draw(n, rng)
        logit = a[:, None] * logit.cpu() + b[:, None]
        for _ in range(int(self.options["mh_steps"])):
            x, new = self._draw(n, rng)
            new = a[:, None] * new.cpu() + b[:, None]
            accept = mh_accept(logit, new, rng.rand(n).cpu())
            self.acceptance.proposed += n
            self.acceptance.accepted += accept.sum(dim=1)
            mask = accept.to(state.device).view(*accept.shape, *([1] * (state.dim() - 2)))
            state = torch.where(mask, x, state)
            logit = torch.where(accept, new, logit)
        return state

    # --- Langevin ----------------------------------------------------------------------------

    def _langevin(self, n: int, rng: ReplicaRNG) -> torch.Tensor:
        o, model = self.options, self._model
        batch = int(o["sampler_batch"])
        parts = []
        for start in range(0, n, batch):
            z = model.sample_prior(min(batch, n - start), rng)
            z = langevin(model.score_latent, model.prior_log_prob, z, int(o["langevin_steps"]),
                         o["langevin_step"], o["langevin_temperature"], rng,
                         o["langevin_prior"])
            with torch.no_grad():
                parts.append(model.score_latent(z)[0])
        self.acceptance.proposed += n
        self.acceptance.accepted += n
        return torch.cat(parts, dim=1)


def langevin(score: Any, log_prior: Any, z: torch.Tensor, steps: int, step: float,
             temperature: float, rng: ReplicaRNG, prior_weight: float = 1.0) -> torch.Tensor:
    """``steps`` Langevin steps on E(z) = −prior_weight·log_prior(z) − logit(z), ``score(z)``
    giving (x, logit); z (R, m, d) -> z of the same shape, detached. Noise from ``rng``."""
    noise = math.sqrt(2 * step * temperature)
    for _ in range(steps):
        z = z.detach().requires_grad_(True)
        with torch.enable_grad():
            energy = -score(z)[1].float().sum()
            if prior_weight:
                energy = energy - prior_weight * log_prior(z).sum()
            (grad,) = torch.autograd.grad(energy, z)
        z = z.detach() - step * grad
        if noise:
            z = z + noise * rng.randn(z.shape[1], z.shape[2]).to(z)
    return z.detach()


def drs_accept(logit: torch.Tensor, max_logit: torch.Tensor, percentile: float, eps: float,
               u: torch.Tensor) -> torch.Tensor:
    """DRS's decisions (R, m) for logits (R, m), the running max (R,) and uniforms u (R, m)."""
    d = logit - max_logit[:, None]
    f = d - torch.log1p(-torch.exp(d - eps).clamp(max=1 - 1e-12))
    if percentile == 0:
        return u < torch.sigmoid(f)
    gamma = torch.quantile(f, percentile / 100.0, dim=1, keepdim=True)
    return u < torch.sigmoid(f - gamma)


def mh_accept(logit: torch.Tensor, proposal: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Independence MH: move to a proposal with probability min(1, r'/r), r = exp(logit)."""
    return u < torch.exp((proposal - logit).clamp(max=0.0))


def platt(real: torch.Tensor, fake: torch.Tensor, iters: int = 100
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-replica logistic fit σ(a·l + b) of real (label 1) against fake (label 0) logits,
    (R, m) each, by Newton's method with step halving; returns (a, b), each (R,)."""
    logits = torch.cat([real, fake], dim=1).double()
    labels = torch.cat([torch.ones_like(real), torch.zeros_like(fake)], dim=1).double()
    feats = torch.stack([logits, torch.ones_like(logits)], dim=-1)  # (R, m, 2)

    def loss(w: torch.Tensor) -> torch.Tensor:  # mean binary cross-entropy, (R,)
        s = (feats * w[:, None]).sum(-1)
        return (torch.nn.functional.softplus(s) - labels * s).mean(1)

    w = torch.zeros(len(logits), 2, dtype=torch.double)
    for _ in range(iters):
        p = torch.sigmoid((feats * w[:, None]).sum(-1))
        grad = (feats * (p - labels)[..., None]).mean(1)
        hess = torch.einsum("rmi,rm,rmj->rij", feats, p * (1 - p), feats) / feats.shape[1]
        hess = hess + 1e-9 * torch.eye(2, dtype=torch.double)
        step = torch.linalg.solve(hess, grad.unsqueeze(-1)).squeeze(-1)
        size = torch.ones(len(w), 1, dtype=torch.double)
        before = loss(w)
        for _ in range(30):  # halve each replica's step until its loss does not rise
            worse = loss(w - size * step) > before + 1e-12
            if not bool(worse.any()):
                break
            size[worse] /= 2
        w = w - size * step
        if float((size * step).abs().max()) < 1e-10:
            break
    return w[:, 0].float(), w[:, 1].float()
