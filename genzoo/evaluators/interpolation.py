"""Latent-space interpolations between held-out images (the ALI paper's §4.2 and Figure 6).

Pairs (x1, x2) of held-out images are encoded by sampling from the encoder, z1 ~ q(z|x1) and
z2 ~ q(z|x2); ``steps`` (10) points z_t = (1 - t) z1 + t z2, t evenly spaced in [0, 1] with
both ends included, are decoded. The decodes at t = 0 and t = 1 are therefore the
reconstructions of x1 and x2.

Metrics, each per replica, over ``pairs`` (10) pairs:

- ``interpolation_endpoint_mse``: the mean per-pixel squared error of the two end decodes
  against x1 and x2 (a reconstruction error on these 2 × ``pairs`` images only; the
  ``reconstruction`` evaluator measures it on many more).
- ``interpolation_largest_step``: how evenly the decoded path moves, as the largest pixel-space
  step between consecutive decodes divided by the path's total length, averaged over pairs.
  ``1 / (steps - 1)`` when every step is the same size (a decoder linear in z), 1 when the
  whole change happens in one step (the decode snaps from one image to the other). A pair
  whose decodes do not change at all counts as even. It measures how smooth the transition
  is, not whether the intermediate images look real: a linear blend of the two images scores
  best.

Artifacts: ``interpolations-seed{S}.png`` per seed, Figure 6's layout: a row per pair, x1 in
the first column, x2 in the last, the ``steps`` decodes in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.base import Dataset
from genzoo.evaluators.base import EvalResult, Evaluator, count, eval_rng
from genzoo.evaluators.reconstruction import checked_output, heldout_images, image_reason
from genzoo.figures.grids import save_png, tile

PAIRS = 10
STEPS = 10
CHUNK = 250  # latent points per replica per decode


@dataclass
class InterpolationOptions:
    pairs: int = count(PAIRS)  # pairs of test images interpolated
    steps: int = count(STEPS, minimum=2)  # points along each path, ends included
    chunk: int = count(CHUNK)  # latent points per replica per decode


def interpolate(z1: torch.Tensor, z2: torch.Tensor, steps: int) -> torch.Tensor:
    """(R, P, *z) endpoints -> (R, P, steps, *z): z1 at the first step, z2 at the last."""
    t = torch.linspace(0, 1, steps, dtype=z1.dtype, device=z1.device)
    t = t.reshape(1, 1, steps, *([1] * (z1.dim() - 2)))
    # (1 - t) z1 + t z2 rather than z1 + t (z2 - z1): exactly z1 and z2 at the ends
    return (1 - t) * z1.unsqueeze(2) + t * z2.unsqueeze(2)


def interpolation_paths(model: Model, x1: torch.Tensor, x2: torch.Tensor, rng: ReplicaRNG,
                        steps: int = STEPS, chunk: int = CHUNK) -> torch.Tensor:
    """Decodes (R, P, steps, C, H, W) along the straight lines from z1 ~ q(z|x1) to
    z2 ~ q(z|x2), for image pairs x1, x2 (P, C, H, W) shared by every replica."""
    pairs = len(x1)
    both = torch.cat([x1, x2]).unsqueeze(0).expand(model.replicas, 2 * pairs, *x1.shape[1:])
    z = model.encode(both.to(model.device), rng)
    if z.dim() < 3 or tuple(z.shape[:2]) != (model.replicas, 2 * pairs):
        raise GenzooError(f"model {model.name!r}: encode returned shape {tuple(z.shape)}, "
                          f"expected ({model.replicas}, {2 * pairs}, z_dim)")
    path = interpolate(z[:, :pairs], z[:, pairs:], steps).flatten(1, 2)  # (R, P*steps, *z)
    decodes = []
    for part in path.split(chunk, dim=1):
        want = (model.replicas, part.shape[1], *x1.shape[1:])
        decodes.append(checked_output(model, model.decode(part), want, "decode"))
    return torch.cat(decodes, 1).unflatten(1, (pairs, steps))


def interpolation_scores(x1: torch.Tensor, x2: torch.Tensor, paths: torch.Tensor
                         ) -> dict[str, torch.Tensor]:
    """Both metrics, shape (R,), for pairs x1, x2 (P, ...) and their paths (R, P, steps, ...)."""
    paths = paths.to(torch.float64).flatten(3)  # (R, P, steps, pixels)
    ends = torch.stack([x1, x2], 1).to(torch.float64).flatten(2)  # (P, 2, pixels)
    endpoint_mse = (paths[:, :, [0, -1]] - ends).square().mean((-1, -2, -3))
    steps = paths.shape[2]
    if steps < 2:
        raise GenzooError("interpolation needs at least 2 steps")
    lengths = (paths[:, :, 1:] - paths[:, :, :-1]).norm(dim=-1)  # (R, P, steps-1)
    total = lengths.sum(-1)
    share = torch.where(total > 0, lengths.max(-1).values / total.clamp(min=1e-300),
                        torch.full_like(total, 1.0 / (steps - 1)))
    return {"interpolation_endpoint_mse": endpoint_mse,
            "interpolation_largest_step": share.mean(-1)}


def save_interpolations(x1: torch.Tensor, x2: torch.Tensor, path_images: torch.Tensor,
                        path: str | Path) -> Path:
    """Figure 6's layout for one replica: per row x1, the decodes (P, steps, ...), x2."""
    rows = torch.cat([x1.unsqueeze(1), path_images, x2.unsqueeze(1)], 1)  # (P, steps+2, ...)
    return save_png(tile(rows.flatten(0, 1), rows.shape[1]), path)


class Interpolation(Evaluator):
    """Decodes along straight lines in z between encoded held-out pairs (Figure 6), with how
    well the ends reconstruct and how evenly the path moves."""

    name = "interpolation"
    Options = InterpolationOptions
    requires = frozenset({"encode"})  # encode comes with decode (the Model rules)
    metrics = ("interpolation_endpoint_mse", "interpolation_largest_step")
    labels = {
        "interpolation_endpoint_mse": "interpolation end decodes, MSE per pixel",
        "interpolation_largest_step": "interpolation largest step / path length",
    }
    protocols = {
        "interpolation_endpoint_mse":
            "per-pixel squared error of the decodes of z1 ~ q(z|x1) and z2 ~ q(z|x2) against x1 "
            "and x2, over 10 held-out pairs",
        "interpolation_largest_step":
            "largest pixel-space step between consecutive decodes along z1 → z2 (10 steps) over "
            "the path's length: 1/9 is perfectly even, 1 a jump; it measures smoothness, not "
            "realism",
    }

    def applies_to(self, dataset: Dataset) -> str | None:
        return image_reason(dataset, self.name)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        """Options: ``pairs`` (10 rows), ``steps`` (10 decodes a row, ends included) and
        ``chunk`` (250 latent points per decode)."""
        self.check(model, dataset)
        pairs, steps, chunk = self.opts.pairs, self.opts.steps, self.opts.chunk  # in range
        # a different selection than reconstruction's first images: seed + 1
        x = heldout_images(dataset, 2 * pairs, seed + 1)
        pairs = len(x) // 2
        if pairs < 1:
            raise GenzooError(f"interpolation needs at least 2 test images; "
                              f"{dataset.spec.name!r} gave {len(x)}")
        x1, x2 = x[:pairs], x[pairs:2 * pairs]
        with torch.no_grad():
            paths = interpolation_paths(model, x1, x2, eval_rng(model, seed), steps, chunk)
        scores = interpolation_scores(x1, x2, paths)
        artifacts = {}
        if out_dir is not None:
            for i, s in enumerate(model.seeds):
                path = save_interpolations(x1, x2, paths[i],
                                           Path(out_dir) / f"interpolations-seed{s}.png")
                artifacts[f"interpolations-seed{s}"] = str(path)
        return EvalResult({k: [float(v) for v in t] for k, t in scores.items()}, artifacts)
