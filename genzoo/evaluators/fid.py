"""The ``fid`` and ``kid`` evaluators: samples of each replica against a real data split.

Options (shared by both; ``genzoo evaluate`` passes them through):

- ``fid_weights``: the Inception weights file (else ``$GENZOO_FID_WEIGHTS``, torch-fidelity's
  download, or genzoo's converted copy; see genzoo.evaluators.inception);
- ``fid_samples``: generated images per replica (default 10,000, "FID-10k");
- ``fid_reference``: the first N images of the split are the reference (default 10,000;
  0 = the whole split); their statistics are cached on disk by content;
- ``fid_split``: the reference split (default ``train``, the distribution the model learned);
- ``fid_batch_size``: images per Inception pass (default 100);
- ``kid_subsets``, ``kid_subset_size``: torch-fidelity's defaults (100, 1000), the subset size
  capped at the sample counts.

Each replica is scored on its own samples (drawn with ``eval_rng``); ``fid`` and ``kid`` in
one evaluation embed the same samples once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genzoo.core.model import Model
from genzoo.data.base import Dataset
from genzoo.evaluators import frechet
from genzoo.evaluators.base import EvalResult, Evaluator, count, eval_rng

DEFAULT_SAMPLES = 10_000
DEFAULT_REFERENCE = 10_000


@dataclass
class InceptionOptions:
    fid_samples: int = count(DEFAULT_SAMPLES, minimum=2)  # samples per replica
    fid_reference: int = count(DEFAULT_REFERENCE, minimum=0)  # real images; 0: the split
    fid_batch_size: int = count(frechet.DEFAULT_BATCH)  # images per Inception pass
    fid_split: str = "train"  # the real images' split
    fid_weights: str | None = None  # an Inception weights file (default: see the guide)
    kid_subsets: int = count(frechet.KID_SUBSETS)
    kid_subset_size: int = count(frechet.KID_SUBSET_SIZE, minimum=2)


class _InceptionEvaluator(Evaluator):
    requires = frozenset({"sample"})
    Options = InceptionOptions

    def applies_to(self, dataset: Dataset) -> str | None:
        spec = dataset.spec
        if spec.kind != "image":
            return (f"{self.name} compares images through an Inception network; "
                    f"{spec.name} is {spec.kind} data")
        if len(spec.x_shape) != 3 or spec.x_shape[0] not in (1, 3):
            return f"{self.name} needs grayscale or RGB images, {spec.name} has shape " \
                   f"{spec.x_shape}"
        return None

    def _stats(self, model: Model, dataset: Dataset, seed: int) -> tuple[Any, list[Any]]:
        """(reference statistics, generated statistics per replica)."""
        o = self.opts
        n, reference, split = o.fid_samples, o.fid_reference, o.fid_split
        net = frechet.extractor(o.fid_weights, device=model.device, batch_size=o.fid_batch_size)
        real = frechet.image_stats([frechet.dataset_images(dataset, split, reference or None)], net,
                                   label=f"{dataset.spec.name} {split} images")
        generated = frechet.sample_features(model, n, eval_rng(model, seed), net, key=seed)
        return real, [frechet.Stats.of(f) for f in generated]


class FID(_InceptionEvaluator):
    """Fréchet Inception distance of samples to a data split (torch-fidelity)."""

    name = "fid"
    metrics = ("fid",)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        self.check(model, dataset)
        real, generated = self._stats(model, dataset, seed)
        return EvalResult({"fid": [frechet.fid(g, real) for g in generated]})


class KID(_InceptionEvaluator):
    """Kernel Inception distance of samples to a data split (torch-fidelity)."""

    name = "kid"
    metrics = ("kid",)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        self.check(model, dataset)
        subsets, size = self.opts.kid_subsets, self.opts.kid_subset_size
        real, generated = self._stats(model, dataset, seed)
        return EvalResult({"kid": [frechet.kid(g, real, subsets=subsets, subset_size=size)[0]
                                   for g in generated]})
