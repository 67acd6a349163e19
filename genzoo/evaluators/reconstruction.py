"""How faithfully a model reconstructs held-out images: x -> G_z(x) -> G_x(G_z(x)).

Metrics, each per replica, over ``heldout`` (default 1,000) test images that every replica
and every model sees alike (``heldout_images``); pixels are floats in [0, 1]:

- ``reconstruction_mse``: the mean over images and pixels of (x - x̂)², in [0, 1].
- ``reconstruction_normalized``: BiGAN's normalised score, the error against the input divided
  by the error against another input: ``Σ_i ||x_i - x̂_i||² / Σ_i ||x_π(i) - x̂_i||²`` with π a
  random derangement of the held-out images (no image is its own "other"). 0 for perfect
  reconstructions; about 1 for reconstructions that ignore their input (a constant image, a
  random sample), because x_π(i) is then distributed as x_i; below 1 only when x̂_i is closer
  to its own input than to a random other one. A ratio of sums, not a mean of per-image
  ratios, so that an input-blind reconstructor scores 1 in expectation and one near-empty
  image cannot dominate.

Artifacts: ``reconstructions-seed{S}.png`` per seed, ``grid_pairs`` (50) of the scored images,
picked by ``heldout_indices``'s fixed permutation, in the paper's layout (odd columns
originals, even columns their reconstructions).
The toy mixtures have their own encoder evaluator, ``inference``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.base import Dataset
from genzoo.data.images import to_float
from genzoo.evaluators.base import EvalResult, Evaluator, count, eval_rng
from genzoo.figures.grids import save_reconstructions

HELDOUT_IMAGES = 1_000
GRID_PAIRS = 50
PAIRS_PER_ROW = 10
CHUNK = 250  # images per replica per forward pass
SELECTION_SEED = 20_160_602  # fixes which test images are scored (the ALI paper's arXiv date)


@dataclass
class ReconstructionOptions:
    heldout: int = count(HELDOUT_IMAGES)  # test images reconstructed
    grid_pairs: int = count(GRID_PAIRS, minimum=0)  # pairs in the saved grid
    chunk: int = count(CHUNK)  # images per replica per forward pass


def image_reason(dataset: Dataset, evaluator: str) -> str | None:
    """None for image data; otherwise why an image evaluator cannot score ``dataset``."""
    if dataset.spec.kind == "image":
        return None
    return (f"{evaluator} scores image datasets and {dataset.spec.name!r} is not one; on toy "
            f"mixtures the `inference` evaluator measures reconstructions")


def heldout_images(dataset: Dataset, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` held-out images (n, C, H, W) in [0, 1], the same for every model and replica.

    The whole test split when it holds at most ``n`` images (in its published order), else
    ``n`` distinct ones picked by a fixed random permutation (``seed`` picks another set), so
    that a split sorted by class still gives a mixed selection.
    """
    g = torch.Generator().manual_seed(SELECTION_SEED + seed)
    listed = dataset.examples("test")
    if listed is not None:
        x = listed[0]
        if len(x) == 0:
            raise GenzooError(f"dataset {dataset.spec.name!r} has no test images to score")
        return to_float(x[heldout_indices(len(x), n, seed)])
    x, _ = dataset.draw(n, g, split="test")  # any other image source: draws with replacement
    return x.float()


def heldout_indices(total: int, n: int, seed: int = 0) -> torch.Tensor:
    """Which of a test split's ``total`` images ``heldout_images`` scores: all of them in
    order when ``n >= total``, else ``n`` picked by the fixed permutation of ``seed``."""
    if n >= total:
        return torch.arange(total)
    g = torch.Generator().manual_seed(SELECTION_SEED + seed)
    return torch.randperm(total, generator=g)[:n]


def checked_output(model: Model, out: torch.Tensor, want: tuple[int, ...],
                   method: str) -> torch.Tensor:
    """``out`` detached as float on the CPU, or a one-line error when its shape is wrong."""
    if tuple(out.shape) != want:
        raise GenzooError(f"model {model.name!r}: {method} returned shape {tuple(out.shape)}, "
                          f"expected {want}; see the Model shape rules in docs/plugins.md")
    return out.detach().float().cpu()


def reconstruct_images(model: Model, x: torch.Tensor, rng: ReplicaRNG,
                       chunk: int = CHUNK) -> torch.Tensor:
    """Every replica's reconstructions (R, n, C, H, W) of the same images x (n, C, H, W),
    ``chunk`` images at a time, on the CPU."""
    parts = []
    for part in x.split(chunk):
        batch = part.unsqueeze(0).expand(model.replicas, *part.shape).to(model.device)
        parts.append(checked_output(model, model.reconstruct(batch, rng), tuple(batch.shape),
                              "reconstruct"))
    return torch.cat(parts, 1)


def derangement(n: int, generator: torch.Generator) -> torch.Tensor:
    """A random permutation of 0..n-1 with no fixed point (n >= 2): each index moves to the
    next one along a random cycle through all of them."""
    order = torch.randperm(n, generator=generator)
    other = torch.empty(n, dtype=torch.long)
    other[order] = order.roll(-1)
    return other


def reconstruction_scores(x: torch.Tensor, x_rec: torch.Tensor, other: torch.Tensor
                          ) -> dict[str, torch.Tensor]:
    """Both metrics for originals x (n, ...) and reconstructions (R, n, ...), with ``other``
    (R, n) the index of the image each reconstruction is also compared against; shape (R,)."""
    x64, rec = x.to(torch.float64), x_rec.to(torch.float64)
    own = (rec - x64).square().flatten(2).sum(-1)  # (R, n)
    against = (rec - x64[other]).square().flatten(2).sum(-1)
    pixels = x[0].numel()
    return {"reconstruction_mse": own.mean(-1) / pixels,
            "reconstruction_normalized": own.sum(-1) / against.sum(-1)}


class Reconstruction(Evaluator):
    """Per-pixel MSE and BiGAN's normalised error of reconstructed held-out images, and a
    grid of them in the paper's layout."""

    name = "reconstruction"
    Options = ReconstructionOptions
    requires = frozenset({"reconstruct"})
    metrics = ("reconstruction_mse", "reconstruction_normalized")
    labels = {
        "reconstruction_mse": "reconstruction MSE per pixel (held-out images)",
        "reconstruction_normalized": "reconstruction error / error vs another image (BiGAN)",
    }
    protocols = {
        "reconstruction_mse":
            "mean over held-out test images (1,000 by default) and pixels, in [0, 1], of (x − x̂)²",
        "reconstruction_normalized":
            "BiGAN's normalised score: Σ‖x_i − x̂_i‖² / Σ‖x_π(i) − x̂_i‖² with π a random "
            "derangement of the same images; 0 is perfect, about 1 means the reconstruction "
            "ignores its input",
    }

    def applies_to(self, dataset: Dataset) -> str | None:
        return image_reason(dataset, self.name)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        """Options: ``heldout`` (1,000 test images), ``grid_pairs`` (50 in the PNG) and
        ``chunk`` (250 images per forward pass)."""
        self.check(model, dataset)
        n = self.opts.heldout
        grid_pairs = self.opts.grid_pairs
        chunk = self.opts.chunk
        x = heldout_images(dataset, n, seed)
        if len(x) < 2:
            raise GenzooError(f"reconstruction needs at least 2 test images; "
                              f"{dataset.spec.name!r} gave {len(x)}")
        rng = eval_rng(model, seed)
        with torch.no_grad():
            x_rec = reconstruct_images(model, x, rng, chunk)
        other = torch.stack([derangement(len(x), g) for g in rng.generators])
        scores = reconstruction_scores(x, x_rec, other)
        artifacts = {}
        if out_dir is not None and grid_pairs > 0:
            k = min(grid_pairs, len(x))
            pick = heldout_indices(len(x), k)  # spread over the scored set (a test split
            # sorted by class would otherwise show one class)
            for i, s in enumerate(model.seeds):
                path = save_reconstructions(x[pick], x_rec[i, pick],
                                            Path(out_dir) / f"reconstructions-seed{s}.png",
                                            pairs_per_row=min(PAIRS_PER_ROW, k))
                artifacts[f"reconstructions-seed{s}"] = str(path)
        return EvalResult({k: [float(v) for v in t] for k, t in scores.items()}, artifacts)
