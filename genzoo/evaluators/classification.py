"""Test error of a model's own classifier (semi-supervised ALI's K+1 discriminator, §4.3).

Metric ``test_error``, per replica: the fraction of the test split misclassified by the
argmax of ``model.classify(x)``. Image datasets score their whole test split in its published
order; any other labelled dataset scores ``heldout`` (default 2,000) test draws per replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from genzoo.core.model import Model
from genzoo.data.base import Dataset
from genzoo.data.images import to_float
from genzoo.evaluators.base import EvalResult, Evaluator, count, eval_rng, heldout

HELDOUT = 2_000
BATCH = 500  # test images per forward pass


@dataclass
class ClassificationOptions:
    heldout: int = count(HELDOUT)  # test images scored


class Classification(Evaluator):
    """Test error of the model's classifier (classify capability) on a labelled dataset."""

    name = "classification"
    Options = ClassificationOptions
    requires = frozenset({"classify"})
    metrics = ("test_error",)

    def applies_to(self, dataset: Dataset) -> str | None:
        spec = dataset.spec
        if spec.num_classes <= 0 or spec.attributes:
            return (f"classification needs a dataset with class labels; {spec.name!r} has "
                    f"none")
        return None

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        wrong = torch.zeros(model.replicas, dtype=torch.float64)
        total = 0
        for x, y in self._batches(model, dataset, seed):
            logits = model.classify(x.to(model.device))
            wrong += (logits.argmax(-1).cpu() != y).sum(1).double()
            total += y.shape[1]
        return EvalResult({"test_error": (wrong / max(total, 1)).tolist()})

    def _batches(self, model: Model, dataset: Dataset, seed: int):
        """(x (R, n, ...), y (R, n)) batches: every replica sees the same test images."""
        r = model.replicas
        listed = dataset.examples("test")
        if listed is not None:  # the whole test split, in order
            images, labels = listed
            assert labels is not None
            for start in range(0, len(images), BATCH):
                x = images[start:start + BATCH]
                x = to_float(x) if x.dtype == torch.uint8 else x.float()
                y = labels[start:start + BATCH]
                yield (x.unsqueeze(0).expand(r, *x.shape),
                       y.unsqueeze(0).expand(r, *y.shape))
            return
        x, y = heldout(dataset, eval_rng(model, seed, "heldout"),
                       self.opts.heldout)
        assert y is not None
        yield x, y
