"""How well a model's encoder inverts its decoder on Gaussian-mixture toy data (Figure 8).

Metrics, each per replica:

- ``latent_match``: how far q(z) = E_x q(z|x) is from the model's prior p(z) (its
  ``sample_prior``, N(0, I) for the bundled models), as the **energy distance** (Székely &
  Rizzo) between encodings of held-out points and as many draws from p(z):
  ``2 E|a - b| - E|a - a'| - E|b - b'|`` with the unbiased (U-statistic) within-sample means.
  It is 0 in expectation when q(z) = p(z) and grows with any difference, holes included,
  which a Gaussian fit of q(z) would miss. Being unbiased it can come out slightly negative
  for a near-perfect match. For scale, N(0, I) against N(0.5 e_1, I) is about 0.12 in two
  dimensions. Computed on the first ``latent_points`` (1,000) encodings.
- ``latent_recall``: how much of p(z) the encodings cover, as the *recall* of Kynkäänniemi et
  al. (2019) with k = 3: the share of draws from p(z) that fall inside some encoding's ball
  reaching to its third-nearest encoding, on the same ``latent_points``. The energy distance
  barely sees a q(z) that puts each mode on a small blob in the right place; recall does
  (grid25: about 0.02 for such blobs, 0.94 for ALI's wide posterior). A second draw from p(z)
  itself scores about 0.97 at 1,000 points.
- ``reconstruction_error``: the mean over held-out x of ``||x - G_x(G_z(x))||²`` (squared
  Euclidean distance, summed over the coordinates).
- ``reconstruction_mode_accuracy``: the fraction of held-out x whose reconstruction lies within
  3 σ (Mahalanobis) of the mean of the component x was drawn from.

Held-out data: ``heldout`` (10,000) points per replica from the dataset's "heldout" stream,
which training never draws from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from genzoo.core.config import bounded
from genzoo.core.model import Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.base import Dataset
from genzoo.evaluators.base import EvalResult, Evaluator, count, eval_rng, heldout, prior_draws
from genzoo.evaluators.mode_coverage import HQ_THRESHOLD, mixture_reason

HELDOUT_POINTS = 10_000
LATENT_POINTS = 1_000
CHUNK = 2_500


@dataclass
class InferenceOptions:
    heldout: int = count(HELDOUT_POINTS)  # held-out points encoded and reconstructed
    latent_points: int = count(LATENT_POINTS)  # of them, compared with p(z)
    threshold: float = bounded(HQ_THRESHOLD, minimum=0)  # "near a mode", in units of σ
    chunk: int = count(CHUNK)  # points per replica per forward pass


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Unbiased energy distance between samples a (..., n, d) and b (..., m, d): shape (...)."""
    a, b = a.to(torch.float64), b.to(torch.float64)
    n, m = a.shape[-2], b.shape[-2]
    mode = "donot_use_mm_for_euclid_dist"  # exact distances: the matmul shortcut is noisy
    ab = torch.cdist(a, b, compute_mode=mode).mean((-2, -1))
    aa = torch.cdist(a, a, compute_mode=mode).sum((-2, -1)) / (n * (n - 1))
    bb = torch.cdist(b, b, compute_mode=mode).sum((-2, -1)) / (m * (m - 1))
    return 2 * ab - aa - bb


def recall(q: torch.Tensor, p: torch.Tensor, k: int = 3) -> torch.Tensor:
    """The share of points p (..., m, d) inside the union of balls around the points q
    (..., n, d), each reaching to its k-th nearest neighbour in q: shape (...)."""
    q, p = q.to(torch.float64), p.to(torch.float64)
    radius = torch.cdist(q, q).kthvalue(k + 1, dim=-1).values  # the 1st is the point itself
    return (torch.cdist(p, q) <= radius.unsqueeze(-2)).any(-1).to(torch.float64).mean(-1)


def reconstruction_scores(x: torch.Tensor, x_rec: torch.Tensor, component: torch.Tensor,
                          means: torch.Tensor, std: float,
                          threshold: float = HQ_THRESHOLD) -> dict[str, torch.Tensor]:
    """``reconstruction_error`` and ``reconstruction_mode_accuracy`` of x (..., n, d)."""
    x, x_rec = x.to(torch.float64), x_rec.to(torch.float64)
    err = (x_rec - x).square().sum(-1)
    own = means.to(torch.float64)[component]
    near = (x_rec - own).square().sum(-1).sqrt() / std < threshold  # NaN compares False
    return {"reconstruction_error": err.mean(-1),
            "reconstruction_mode_accuracy": near.to(torch.float64).mean(-1)}


def encode_decode(model: Model, x: torch.Tensor, rng: ReplicaRNG,
                  chunk: int = CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """z = G_z(x) and G_x(z) for x (R, n, d), ``chunk`` points per replica at a time (CPU)."""
    zs, recs = [], []
    for part in x.split(chunk, dim=1):
        z = model.encode(part.to(model.device), rng)
        recs.append(model.decode(z).detach().float().cpu())
        zs.append(z.detach().float().cpu())
    return torch.cat(zs, 1), torch.cat(recs, 1)


class InferenceQuality(Evaluator):
    """Encoder quality: q(z) against p(z), reconstruction error and mode accuracy."""

    name = "inference"
    Options = InferenceOptions
    requires = frozenset({"encode"})
    metrics = ("latent_match", "latent_recall", "reconstruction_error",
               "reconstruction_mode_accuracy")
    labels = {
        "latent_match": "q(z) vs p(z), energy distance",
        "latent_recall": "p(z) covered by q(z) (recall, k = 3)",
        "reconstruction_error": "reconstruction error (squared distance)",
        "reconstruction_mode_accuracy": "reconstructions in own mode (3σ)",
    }

    def applies_to(self, dataset: Dataset) -> str | None:
        return mixture_reason(dataset)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        """Options: ``heldout`` (10,000 points), ``latent_points`` (1,000), ``threshold``
        (3 σ) and ``chunk`` (2,500 points per forward pass)."""
        self.check(model, dataset)
        mix = dataset.mixture()
        assert mix is not None
        n = self.opts.heldout
        n_latent = min(n, self.opts.latent_points)
        threshold = self.opts.threshold
        chunk = self.opts.chunk
        x, component = heldout(dataset, eval_rng(model, seed, "heldout"), n)
        rng = eval_rng(model, seed)
        with torch.no_grad():
            z, x_rec = encode_decode(model, x, rng, chunk)
            prior = prior_draws(model, n_latent, z, rng)
        scores = reconstruction_scores(x, x_rec, component, mix.means, mix.std,
                                       threshold)
        scores["latent_match"] = energy_distance(z[:, :n_latent], prior)
        scores["latent_recall"] = recall(z[:, :n_latent], prior)
        return EvalResult({k: [float(v) for v in scores[k].reshape(-1)] for k in self.metrics})
