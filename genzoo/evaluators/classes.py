"""Evaluators that judge images by their class: a classifier of the dataset's own labels
(``genzoo.evaluators.label_classifier``, fitted on the training split and cached) reads what
a model made.

- ``class-agreement`` (needs reconstruct): the fraction of held-out images x whose
  reconstruction G_x(G_z(x)) the classifier puts in x's own labelled class (chance: the
  largest class's share). It asks whether inference keeps what a digit *is*, which pixel
  distances (``reconstruction``) cannot: a faithful "4" drawn in another style is far in
  pixels and right in class.
- ``icp`` (needs sample): the classifier-based inception score of ALICE's paper,
  ICP = exp(E_x KL(p(y|x) ‖ p(y))) over samples, p(y) their mean prediction; K for K balanced,
  confidently classified classes, 1 for a model that makes one class (or only ambiguous
  images). Beside it, ``class_share_min`` and ``class_share_max``: the smallest and largest
  share of samples the classifier puts in one class (every class present at 1/K each is
  ideal), and the same ICP of the real held-out images (``icp_real``).

Both report ``classifier_accuracy``, the classifier's own accuracy on the real held-out
images, so that a reader knows how far to trust them. Scores are per replica, over the same
held-out images for every model (``heldout``, default 1,000) and ``samples`` (default 1,000)
draws of each replica. A dataset without class labels is refused with one line saying why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.data.base import Dataset, lists_examples
from genzoo.data.images import to_float
from genzoo.evaluators import label_classifier
from genzoo.evaluators.base import EvalResult, Evaluator, count, eval_rng
from genzoo.evaluators.reconstruction import (
    HELDOUT_IMAGES,
    checked_output,
    heldout_indices,
    reconstruct_images,
)

SAMPLES = 1_000
CHUNK = 250


@dataclass
class AgreementOptions:
    heldout: int = count(HELDOUT_IMAGES)  # test images reconstructed
    chunk: int = count(CHUNK)  # images per replica per forward pass


@dataclass
class ScoreOptions(AgreementOptions):
    samples: int = count(SAMPLES)  # samples classified per replica


def labels_reason(dataset: Dataset, evaluator: str) -> str | None:
    """None for an image dataset with class labels; otherwise why ``evaluator`` cannot run."""
    spec = dataset.spec
    if spec.kind != "image":
        return f"{evaluator} scores image datasets and {spec.name!r} is {spec.kind} data"
    if spec.num_classes <= 0 or spec.attributes:
        return (f"{evaluator} judges images by their class and {spec.name!r} has no class "
                f"labels to fit a classifier on")
    if not lists_examples(dataset) or not {"train", "test"} <= set(dataset.splits):
        return f"{evaluator} needs a dataset with fixed train and test splits (examples())"
    return None


def labelled_heldout(dataset: Dataset, n: int,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out images ``reconstruction`` scores (the same selection) and their labels."""
    x, y = dataset.examples("test")
    if y is None or len(x) == 0:
        raise GenzooError(f"dataset {dataset.spec.name!r} has no labelled test images")
    idx = heldout_indices(len(x), n, seed)
    return to_float(x[idx]), y[idx].long()


def agreement(predicted: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per replica, the fraction of predictions (R, n) equal to the labels (n,)."""
    return (predicted == labels).double().mean(-1)


def icp(probabilities: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) ‖ p(y))) of class probabilities (n, K), p(y) their mean."""
    p = probabilities.double().clamp_min(1e-12)
    marginal = p.mean(0, keepdim=True)
    return float(torch.exp((p * (p.log() - marginal.log())).sum(1).mean()))


def class_shares(predicted: torch.Tensor, classes: int) -> torch.Tensor:
    """The share of predictions (n,) in each of ``classes`` classes (K,)."""
    return torch.bincount(predicted, minlength=classes).double() / max(len(predicted), 1)


class _ClassEvaluator(Evaluator):
    def applies_to(self, dataset: Dataset) -> str | None:
        return labels_reason(dataset, self.name)


class ClassAgreement(_ClassEvaluator):
    """Whether reconstructions of held-out images keep their class."""

    name = "class-agreement"
    Options = AgreementOptions
    requires = frozenset({"reconstruct"})
    metrics = ("class_agreement", "classifier_accuracy")

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        """Options: ``heldout`` (1,000 test images) and ``chunk`` (250 per forward pass)."""
        self.check(model, dataset)
        clf = label_classifier.for_dataset(dataset)
        x, y = labelled_heldout(dataset, self.opts.heldout,
                                seed)
        with torch.no_grad():
            x_rec = reconstruct_images(model, x, eval_rng(model, seed),
                                       self.opts.chunk)
        predicted = torch.stack([clf.predict(r) for r in x_rec])
        scores = agreement(predicted, y)
        return EvalResult({"class_agreement": scores.tolist(),
                           "classifier_accuracy": [clf.accuracy] * model.replicas})


class ClassifierScore(_ClassEvaluator):
    """ALICE's classifier-based inception score and the class histogram of samples."""

    name = "icp"
    Options = ScoreOptions
    requires = frozenset({"sample"})
    metrics = ("icp", "icp_real", "class_share_min", "class_share_max",
               "classifier_accuracy")

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        """Options: ``samples`` (1,000 per replica), ``heldout`` (real images for
        ``icp_real``, 1,000) and ``chunk`` (250 samples per forward pass). Writes
        ``class-histogram.json`` (every class's share per seed, and the real images')."""
        self.check(model, dataset)
        clf = label_classifier.for_dataset(dataset)
        k = dataset.spec.num_classes
        n = self.opts.samples
        chunk = self.opts.chunk
        rng = eval_rng(model, seed)  # the draws FID scores too
        parts = []
        with torch.no_grad():
            for size in [chunk] * (n // chunk) + ([n % chunk] if n % chunk else []):
                out = model.sample(size, rng)
                parts.append(checked_output(model, out, (model.replicas, size,
                                                         *dataset.spec.x_shape), "sample"))
        samples = torch.cat(parts, 1)
        probs = [clf.probabilities(s) for s in samples]
        real_x, _ = labelled_heldout(dataset, self.opts.heldout,
                                     seed)
        real_probs = clf.probabilities(real_x)
        shares = [class_shares(p.argmax(1), k) for p in probs]
        metrics = {"icp": [icp(p) for p in probs],
                   "icp_real": [icp(real_probs)] * model.replicas,
                   "class_share_min": [float(s.min()) for s in shares],
                   "class_share_max": [float(s.max()) for s in shares],
                   "classifier_accuracy": [clf.accuracy] * model.replicas}
        artifacts = {}
        if out_dir is not None:
            path = Path(out_dir) / "class-histogram.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({
                "samples_per_seed": n,
                "seeds": {str(s): [round(float(v), 4) for v in shares[i]]
                          for i, s in enumerate(model.seeds)},
                "real_heldout": [round(float(v), 4)
                                 for v in class_shares(real_probs.argmax(1), k)]}, indent=1))
            artifacts["class-histogram"] = str(path)
        return EvalResult(metrics, artifacts)
