"""Mode coverage on Gaussian-mixture toy data, under both protocols of REFERENCE.md.

- **paper** (ALI §4.5): 10,000 samples; each goes to the component of highest responsibility,
  which for equal weights and one isotropic σ is the nearest mean. ``modes_paper`` counts
  components with at least one sample; ``dropped_modes_paper`` is K minus that.
- **PacGAN/VEEGAN**: 2,500 samples; a sample is *high quality* when its Mahalanobis distance
  to the nearest mean, ``||x - mu|| / σ``, is below 3. ``modes`` counts components holding at
  least one high-quality sample, ``high_quality`` is the fraction of samples that are high
  quality (in [0, 1]), and ``reverse_kl`` is ``sum_k p_k log(p_k / (1/K))`` over the histogram
  p of high-quality samples on the K components (0 log 0 = 0). When no sample is high quality
  the histogram is undefined; we report ``log K``, the largest value the statistic can take
  (all mass on one mode), so that a model producing nothing usable never looks better than
  one collapsed onto a single mode.

The functions take samples with any leading axes (..., n, d) and return tensors of shape (...),
so all replicas of a model are scored in one computation. Non-finite samples (a diverged
model) sit on no mode and are never high quality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from genzoo.core.config import bounded
from genzoo.core.model import Model
from genzoo.data.base import Dataset
from genzoo.evaluators.base import EvalResult, Evaluator, count, eval_rng

PAPER_SAMPLES = 10_000
PACGAN_SAMPLES = 2_500
HQ_THRESHOLD = 3.0  # in units of σ


@dataclass
class ModeCoverageOptions:
    samples: int = count(PACGAN_SAMPLES)  # per replica, PacGAN's protocol
    samples_paper: int = count(PAPER_SAMPLES)  # per replica, the ALI paper's protocol
    threshold: float = bounded(HQ_THRESHOLD, minimum=0)  # "high quality" within this many σ
    chunk: int = count(PACGAN_SAMPLES)  # samples per replica per model call


def nearest_mode(x: torch.Tensor, means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest mean and the distance to it, both (..., n).

    Non-finite samples get index -1 and distance +inf.
    """
    x = x.to(torch.float64)
    means = means.to(device=x.device, dtype=torch.float64)
    sq = (x.unsqueeze(-2) - means).square().sum(-1)  # (..., n, K); K and d are small
    dist2, idx = sq.min(-1)
    finite = torch.isfinite(x).all(-1)
    idx = torch.where(finite, idx, torch.full_like(idx, -1))
    dist = torch.where(finite, dist2.sqrt(), torch.full_like(dist2, math.inf))
    return idx, dist


def mode_histogram(idx: torch.Tensor, keep: torch.Tensor, num_modes: int) -> torch.Tensor:
    """Counts (..., K) of the samples with ``keep`` true on each mode index in ``idx``."""
    counts = torch.zeros(*idx.shape[:-1], num_modes, dtype=torch.float64, device=idx.device)
    keep = keep & (idx >= 0)
    return counts.scatter_add_(-1, idx.clamp(min=0), keep.to(torch.float64))


def paper_protocol(x: torch.Tensor, means: torch.Tensor) -> dict[str, torch.Tensor]:
    """``modes_paper`` and ``dropped_modes_paper`` of samples ``x`` (..., n, d)."""
    idx, _ = nearest_mode(x, means)
    counts = mode_histogram(idx, torch.ones_like(idx, dtype=torch.bool), len(means))
    modes = (counts > 0).sum(-1).to(torch.float64)
    return {"modes_paper": modes, "dropped_modes_paper": len(means) - modes}


def pacgan_protocol(x: torch.Tensor, means: torch.Tensor, std: float,
                    threshold: float = HQ_THRESHOLD) -> dict[str, torch.Tensor]:
    """``modes``, ``high_quality`` and ``reverse_kl`` of samples ``x`` (..., n, d)."""
    k = len(means)
    idx, dist = nearest_mode(x, means)
    hq = dist / std < threshold
    counts = mode_histogram(idx, hq, k)
    total = counts.sum(-1)
    p = counts / total.clamp(min=1).unsqueeze(-1)
    # sum p log(p K) = sum p log p + log K because p sums to one; xlogy gives 0 log 0 = 0
    rkl = torch.xlogy(p, p).sum(-1) + math.log(k)
    rkl = torch.where(total > 0, rkl.clamp(min=0), torch.full_like(rkl, math.log(k)))
    return {"modes": (counts > 0).sum(-1).to(torch.float64),
            "high_quality": hq.to(torch.float64).mean(-1),
            "reverse_kl": rkl}


def mixture_reason(dataset: Dataset) -> str | None:
    """None for a Gaussian mixture; otherwise why mixture metrics cannot score this data."""
    if dataset.mixture() is not None:
        return None
    return (f"dataset {dataset.spec.name!r} is not a Gaussian mixture; mode metrics need "
            f"known means (use --toy grid25 or ring8)")


def sample_in_chunks(model: Model, n: int, rng, chunk: int) -> torch.Tensor:
    """``n`` samples per replica as (R, n, d) on the CPU, drawn ``chunk`` at a time so that
    wide networks never hold activations for all samples of all replicas at once."""
    parts, left = [], n
    while left > 0:
        m = min(chunk, left)
        parts.append(model.sample(m, rng).detach().float().cpu())
        left -= m
    return torch.cat(parts, dim=1)


class ModeCoverage(Evaluator):
    """Modes covered, high-quality fraction and reverse KL (ALI paper and PacGAN protocols)."""

    name = "mode-coverage"
    Options = ModeCoverageOptions
    requires = frozenset({"sample"})
    metrics = ("modes_paper", "dropped_modes_paper", "modes", "high_quality", "reverse_kl")
    labels = {
        "modes_paper": "modes, paper protocol (10k samples)",
        "dropped_modes_paper": "dropped modes, paper protocol",
        "modes": "modes, PacGAN protocol (2.5k samples)",
        "high_quality": "high-quality samples, PacGAN",
        "reverse_kl": "reverse KL, PacGAN",
    }

    def applies_to(self, dataset: Dataset) -> str | None:
        return mixture_reason(dataset)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        """Options: ``samples_paper`` (10,000), ``samples`` (PacGAN, 2,500), ``threshold``
        (3 σ) and ``chunk`` (samples per forward pass, 2,500). The PacGAN samples are the
        first ``samples`` of the paper protocol's draw: one sampling pass serves both."""
        self.check(model, dataset)
        mix = dataset.mixture()
        assert mix is not None
        n_paper = self.opts.samples_paper
        n_pacgan = self.opts.samples
        threshold = self.opts.threshold
        chunk = self.opts.chunk
        with torch.no_grad():
            x = sample_in_chunks(model, max(n_paper, n_pacgan), eval_rng(model, seed), chunk)
        scores = {**paper_protocol(x[:, :n_paper], mix.means),
                  **pacgan_protocol(x[:, :n_pacgan], mix.means, mix.std, threshold)}
        return EvalResult({k: [float(v) for v in t.reshape(-1)] for k, t in scores.items()})
