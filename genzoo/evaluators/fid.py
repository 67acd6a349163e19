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

from pathlib import Path
from typing import Any

from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.data.base import Dataset
from genzoo.evaluators.base import EvalResult, Evaluator, eval_rng

DEFAULT_SAMPLES = 10_000
DEFAULT_REFERENCE = 10_000


def _positive(options: dict[str, Any], name: str, default: int, minimum: int = 1) -> int:
    value = options.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if number < minimum:
        raise GenzooError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return number


class _InceptionEvaluator(Evaluator):
    requires = frozenset({"sample"})
    options_accepted = frozenset({"fid_samples", "fid_reference", "fid_batch_size", "fid_split",
                                  "fid_weights", "kid_subsets", "kid_subset_size"})

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
        from genzoo.evaluators import frechet as fid

        o = self.options
        n = _positive(o, "fid_samples", DEFAULT_SAMPLES, minimum=2)
        reference = _positive(o, "fid_reference", DEFAULT_REFERENCE, minimum=0)
        batch = _positive(o, "fid_batch_size", fid.DEFAULT_BATCH)
        split = str(o.get("fid_split", "train"))
        net = fid.extractor(o.get("fid_weights"), device=model.device, batch_size=batch)
        real = fid.image_stats([fid.dataset_images(dataset, split, reference or None)], net,
                               label=f"{dataset.spec.name} {split} images")
        generated = fid.sample_features(model, n, eval_rng(model, seed), net, key=seed)
        return real, [fid.Stats.of(f) for f in generated]


class FID(_InceptionEvaluator):
    """Fréchet Inception distance of samples to a data split (torch-fidelity)."""

    name = "fid"
    metrics = ("fid",)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        from genzoo.evaluators import frechet as fid

        self.check(model, dataset)
        real, generated = self._stats(model, dataset, seed)
        return EvalResult({"fid": [fid.fid(g, real) for g in generated]})


class KID(_InceptionEvaluator):
    """Kernel Inception distance of samples to a data split (torch-fidelity)."""

    name = "kid"
    metrics = ("kid",)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        from genzoo.evaluators import frechet as fid

        self.check(model, dataset)
        subsets = _positive(self.options, "kid_subsets", fid.KID_SUBSETS)
        size = _positive(self.options, "kid_subset_size", fid.KID_SUBSET_SIZE, minimum=2)
        real, generated = self._stats(model, dataset, seed)
        return EvalResult({"kid": [fid.kid(g, real, subsets=subsets, subset_size=size)[0]
                                   for g in generated]})
