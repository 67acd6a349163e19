"""The ALI paper's L2-SVM protocol (§4.3, Table 1) on a model's features: ``svm-features``.

As the original code runs it (IshmaelBelghazi/ALI, experiments/semi_supervised_svhn.py) and
REFERENCE.md gives it:

- Features: ``model.features(x)`` (for encoders, the posterior mean and the outputs of the last
  three hidden layers, flattened: 8,960-d for the SVHN networks), computed in eval mode
  without gradients.
- Splits. SVHN: the train split's first 63,257 images are the labelled pool, its last 10,000
  the validation set; the test split (26,032) gives the reported error. Any other labelled
  image dataset: the last 10 % of each class of the train split (in its published order) is
  the validation set, the rest the pool (``protocol_splits``); the test split is scored.
- A draw: ``labels`` (1,000) labelled examples from the pool, class-balanced (100 per class)
  as REFERENCE.md says; ``balanced=false`` draws them uniformly without replacement, as the
  original code's ShuffledScheme did.
- The classifier: sklearn's ``LinearSVC(C=C)`` (squared hinge, L2 penalty, one-vs-rest,
  penalised intercept with ``intercept_scaling=1``), solved exactly by
  ``genzoo.evaluators.linear_svm``.
- C: one of 50 values with natural-log C evenly spaced in [-20, 20], the one with the lowest
  validation error (the smallest C on ties, as the original's strict ``<``).
- ``select=once`` (default, the original code): C is chosen once, on the validation error of
  an extra draw, then fixed for the ``draws`` (100) test draws. ``select=per-draw`` chooses C
  on validation for every draw (50 fits and 50 x 10 validation scorings per draw: about 10x
  slower at SVHN sizes).
- Reported: ``error`` the mean test error (a fraction) over the draws, ``error_std`` their
  standard deviation (numpy's, ddof 0, as the original), ``log_c`` the chosen natural-log C
  (mean over draws for per-draw selection), ``val_error`` the validation error at it.
  The paper's SVHN numbers are percentages: ALI 19.14 ± 0.50.

Label draws depend only on ``seed`` (not on the model), so every model, every replica and the
raw-pixel baseline (``features=pixels``, or ``pixel_protocol``) are scored on the same draws.
Only the pool images some draw uses go through the network.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from genzoo.core.atomic import atomic_write_json
from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.data.base import Dataset, lists_examples
from genzoo.data.images import holdout_by_class, to_float
from genzoo.evaluators.base import EvalResult, Evaluator, count
from genzoo.evaluators.linear_svm import c_grid, decision_weights, fit_ovr, predict

LABELS = 1_000
DRAWS = 100
SVHN_VALIDATION = 10_000  # the last 10,000 of SVHN's train split (63,257 + 10,000 = 73,257)
VALIDATION_FRACTION = 0.1  # of each class, for any other dataset
CHUNK = 250  # images per replica per forward pass
DRAW_SEED = 20_160_602  # label draws are fixed by this and the evaluation seed only
SELECT = ("once", "per-draw")
TEST_BATCH = 16  # draws scored per pass over the test features


# --- splits and draws --------------------------------------------------------------------------

def protocol_splits(name: str, train_labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into the train split of the labelled pool and of the validation set.

    SVHN keeps the original code's split (the last 10,000 images validate) whenever the split
    is big enough for it; everything else validates on the last ``VALIDATION_FRACTION`` of
    each class, so that a split sorted by class still validates on every class."""
    n = len(train_labels)
    if name == "svhn" and n > 2 * SVHN_VALIDATION:
        idx = torch.arange(n)
        return idx[:-SVHN_VALIDATION], idx[-SVHN_VALIDATION:]
    val = torch.from_numpy(holdout_by_class(train_labels.numpy(), VALIDATION_FRACTION))
    return (~val).nonzero().squeeze(1), val.nonzero().squeeze(1)


def draw_labelled(pool_labels: torch.Tensor, labels: int, num_classes: int,
                  generator: torch.Generator, balanced: bool = True) -> torch.Tensor:
    """Positions in the pool of one draw of ``labels`` labelled examples, sorted.

    Balanced: ``labels // num_classes`` of each class, plus one more for ``labels %
    num_classes`` classes picked at random; without replacement within a class. Otherwise
    ``labels`` distinct examples uniformly at random (the original code's first batch of a
    fresh shuffle)."""
    n = len(pool_labels)
    if labels < 1 or labels > n:
        raise GenzooError(f"svm-features: labels={labels} must be between 1 and the pool size "
                          f"{n}")
    if not balanced:
        return torch.randperm(n, generator=generator)[:labels].sort().values
    base, extra = divmod(labels, num_classes)
    want = torch.full((num_classes,), base, dtype=torch.long)
    want[torch.randperm(num_classes, generator=generator)[:extra]] += 1
    picks = []
    for k in range(num_classes):
        members = (pool_labels == k).nonzero().squeeze(1)
        if len(members) < int(want[k]):
            raise GenzooError(f"svm-features: class {k} has {len(members)} examples in the "
                              f"labelled pool, fewer than the {int(want[k])} a balanced draw of "
                              f"{labels} labels needs; pass labels=N with fewer labels or "
                              f"balanced=false")
        picks.append(members[torch.randperm(len(members), generator=generator)[:int(want[k])]])
    return torch.cat(picks).sort().values


def protocol_draws(pool_labels: torch.Tensor, *, labels: int, draws: int, num_classes: int,
                   balanced: bool = True, select: str = "once", seed: int = 0
                   ) -> list[torch.Tensor]:
    """The draws one evaluation uses, a function of ``seed`` only: with ``select=once`` the
    first is the C-selection draw and the other ``draws`` are scored."""
    if select not in SELECT:
        raise GenzooError(f"svm-features: select={select!r}; use once or per-draw")
    if draws < 1:
        raise GenzooError(f"svm-features: draws={draws} must be at least 1")
    g = torch.Generator().manual_seed(DRAW_SEED + int(seed))
    total = draws + (1 if select == "once" else 0)
    return [draw_labelled(pool_labels, labels, num_classes, g, balanced) for _ in range(total)]


# --- the protocol on feature matrices ----------------------------------------------------------

@dataclass
class ProtocolResult:
    """Test errors (fractions) of every scored draw and the C behind each."""

    test_errors: np.ndarray  # (draws,)
    log_c: np.ndarray  # (draws,) natural log of the C each draw used
    val_errors: np.ndarray  # (draws,) validation error at that C
    val_curve: np.ndarray  # (50,) validation error per C: of the selection draw, or the mean
    max_kkt: float  # the largest KKT violation any fit ended with (margin units)
    seconds: float

    @property
    def error(self) -> float:
        return float(self.test_errors.mean())

    @property
    def error_std(self) -> float:
        return float(self.test_errors.std())  # ddof 0, as numpy.std in the original code

    def summary(self) -> dict[str, Any]:
        return {"error": self.error, "error_std": self.error_std,
                "log_c": float(self.log_c.mean()), "val_error": float(self.val_errors.mean()),
                "test_errors": self.test_errors.tolist(), "log_c_per_draw": self.log_c.tolist(),
                "val_curve": self.val_curve.tolist(), "max_kkt": self.max_kkt,
                "seconds": self.seconds}


def _errors(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor,
            num_classes: int) -> torch.Tensor:
    """Error rate on (x, y) of each one-vs-rest machine (``num_classes`` consecutive columns
    of (w, b)): (machines,) float64."""
    wrong = predict(x, w, b, num_classes) != y.unsqueeze(1)
    return wrong.to(torch.float64).mean(0)


def svm_protocol(pool_x: torch.Tensor, pool_y: torch.Tensor, val_x: torch.Tensor,
                 val_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor, *,
                 num_classes: int, draws: Sequence[torch.Tensor] | None = None,
                 labels: int = LABELS, num_draws: int = DRAWS, select: str = "once",
                 balanced: bool = True, seed: int = 0, cs: torch.Tensor | None = None,
                 progress: Callable[[int, int], None] | None = None) -> ProtocolResult:
    """The L2-SVM protocol on precomputed features (rows (N, d), labels (N,) in 0..K-1).

    ``draws``: positions in the pool of each draw (``protocol_draws``; the first is the
    C-selection draw when ``select=once``); by default drawn here from ``labels``,
    ``num_draws``, ``balanced`` and ``seed``.

    Precision: the Gram matrix and the products with validation and test features are
    computed in the features' dtype (float32 from models: half the time of float64), the
    solver and the weights w = X^T alpha in float64. On 8,960-d features a float32 Gram moved
    decision values by 1e-7 to 3e-6 (relative) and changed no prediction out of 5,000 at any
    C we tried; pass float64 features for a float64 Gram."""
    start = time.perf_counter()
    if select not in SELECT:
        raise GenzooError(f"svm-features: select={select!r}; use once or per-draw")
    if draws is None:
        draws = protocol_draws(pool_y, labels=labels, draws=num_draws, num_classes=num_classes,
                               balanced=balanced, select=select, seed=seed)
    cs = c_grid() if cs is None else torch.as_tensor(cs, dtype=torch.float64)
    log_cs = cs.log()
    k = num_classes
    max_kkt = 0.0

    def fit(idx: torch.Tensor, c_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal max_kkt
        xs = pool_x[idx]
        x64 = xs.to(torch.float64)
        result = fit_ovr(xs @ xs.T, pool_y[idx], k, c_values)
        max_kkt = max(max_kkt, float(result.kkt.max()))
        return decision_weights(x64, result, pool_x.dtype)

    def select_c(idx: torch.Tensor) -> tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]:
        w, b = fit(idx, cs)
        curve = _errors(val_x, val_y, w, b, k)
        best = int(curve.argmin())  # first minimum: the smallest C among ties
        cols = slice(best * k, (best + 1) * k)
        return best, curve, w[:, cols], b[cols]

    test_errors: list[float] = []
    chosen, val_errors, curves = [], [], []
    pending: list[tuple[torch.Tensor, torch.Tensor]] = []

    def score_pending() -> None:
        # ten columns per draw would make each pass over the test features memory-bound:
        # score TEST_BATCH draws per pass
        if pending:
            w = torch.cat([p[0] for p in pending], 1)
            b = torch.cat([p[1] for p in pending])
            test_errors.extend(_errors(test_x, test_y, w, b, k).tolist())
            pending.clear()

    scored = list(draws)
    if select == "once":
        best, curve, _, _ = select_c(scored.pop(0))
        curves.append(curve)
    for i, idx in enumerate(scored):
        if select == "once":
            w, b = fit(idx, cs[best:best + 1])
        else:
            best, curve, w, b = select_c(idx)
            curves.append(curve)
        val_errors.append(float(curve[best]))
        chosen.append(float(log_cs[best]))
        pending.append((w, b))
        if len(pending) == TEST_BATCH or i + 1 == len(scored):
            score_pending()
        if progress is not None:
            progress(i + 1, len(scored))
    return ProtocolResult(np.array(test_errors), np.array(chosen), np.array(val_errors),
                          torch.stack(curves).mean(0).numpy(), max_kkt,
                          time.perf_counter() - start)


# --- features of a dataset --------------------------------------------------------------------

def _labelled_reason(dataset: Dataset) -> str | None:
    spec = dataset.spec
    if not lists_examples(dataset) or spec.kind != "image":
        return (f"svm-features scores image datasets with class labels and {spec.name!r} is "
                f"not one")
    if spec.num_classes < 2 or spec.attributes:
        return (f"svm-features needs class labels and {spec.name!r} has "
                f"{'attribute vectors' if spec.attributes else 'no class labels'}")
    if "train" not in dataset.splits or "test" not in dataset.splits:
        return (f"svm-features needs a train and a test split; {spec.name!r} has "
                f"{', '.join(dataset.splits)}")
    return None


def model_features(model: Model, images: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """``model.features`` of uint8 images (N, C, H, W) for every replica: (R, N, d) float32 on
    the CPU, ``chunk`` images at a time, in eval mode without gradients (the model's mode is
    restored afterwards)."""
    was_training = model.training
    model.eval()
    parts = []
    try:
        with torch.no_grad():
            for part in images.split(chunk):
                x = to_float(part).unsqueeze(0).expand(model.replicas, *part.shape)
                out = model.features(x.to(model.device))
                if out.dim() != 3 or out.shape[:2] != (model.replicas, len(part)):
                    raise GenzooError(f"model {model.name!r}: features returned shape "
                                      f"{tuple(out.shape)}, expected ({model.replicas}, "
                                      f"{len(part)}, d); see docs/plugins.md")
                parts.append(out.detach().float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(parts, 1)


def pixel_features(images: torch.Tensor) -> torch.Tensor:
    """Raw pixels in [0, 1], flattened: the baseline (1, N, C*H*W) float32."""
    return to_float(images).flatten(1).unsqueeze(0)


@dataclass
class _Plan:
    pool_rows: torch.Tensor  # indices into the train split of every pool image a draw uses
    pool_y: torch.Tensor
    draws: list[torch.Tensor]  # positions in pool_rows
    val_rows: torch.Tensor
    val_y: torch.Tensor
    test_y: torch.Tensor


def _plan(dataset: Dataset, *, labels: int, draws: int, balanced: bool, select: str,
          seed: int) -> _Plan:
    _, train_y = dataset.examples("train")
    _, test_y = dataset.examples("test")
    pool, val = protocol_splits(dataset.spec.name, train_y)
    if len(val) == 0 or len(test_y) == 0:
        raise GenzooError(f"svm-features: {dataset.spec.name!r} has no validation or test "
                          f"images to score")
    chosen = protocol_draws(train_y[pool], labels=labels, draws=draws,
                            num_classes=dataset.spec.num_classes, balanced=balanced,
                            select=select, seed=seed)
    used, inverse = torch.unique(torch.cat(chosen), return_inverse=True)
    compact = list(inverse.split([len(c) for c in chosen]))
    return _Plan(pool[used], train_y[pool[used]], compact, val, train_y[val], test_y)


def run_protocol(dataset: Dataset, featurize: Callable[[torch.Tensor], torch.Tensor], *,
                 labels: int = LABELS, draws: int = DRAWS, balanced: bool = True,
                 select: str = "once", seed: int = 0) -> list[ProtocolResult]:
    """The protocol on ``featurize(uint8 images) -> (R, N, d)``, one result per replica."""
    reason = _labelled_reason(dataset)
    if reason:
        raise GenzooError(reason)
    plan = _plan(dataset, labels=labels, draws=draws, balanced=balanced, select=select,
                 seed=seed)
    train_x, _ = dataset.examples("train")
    test_x, _ = dataset.examples("test")
    pool_f = featurize(train_x[plan.pool_rows])
    val_f = featurize(train_x[plan.val_rows])
    test_f = featurize(test_x)
    return [svm_protocol(pool_f[r], plan.pool_y, val_f[r], plan.val_y, test_f[r], plan.test_y,
                         num_classes=dataset.spec.num_classes, draws=plan.draws, select=select)
            for r in range(len(pool_f))]


def pixel_protocol(dataset: Dataset, **options: Any) -> ProtocolResult:
    """The raw-pixel baseline on the same draws as ``svm-features`` with the same seed."""
    return run_protocol(dataset, pixel_features, **options)[0]


@dataclass
class SVMOptions:
    features: Literal["model", "pixels"] = "model"  # pixels: the raw-pixel baseline
    labels: int = count(LABELS)  # labelled examples per draw
    draws: int = count(DRAWS)  # label draws averaged
    balanced: bool = True  # class-balanced draws (LABELS / classes per class)
    select: Literal["once", "per-draw"] = "once"  # when C is chosen on the validation split
    chunk: int = count(CHUNK)  # images per replica per forward pass


class SVMFeatures(Evaluator):
    """Mean ± std test error of linear SVMs on the model's features over label draws."""

    name = "svm-features"
    Options = SVMOptions
    requires = frozenset({"features"})
    metrics = ("error", "error_std", "log_c", "val_error")

    def applies_to(self, dataset: Dataset) -> str | None:
        return _labelled_reason(dataset)

    def missing(self, model: Model, dataset: Dataset) -> str | None:
        if self.opts.features == "pixels":  # the baseline needs nothing from the model
            return self.applies_to(dataset)
        return super().missing(model, dataset)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        """Options: ``labels`` (1,000), ``draws`` (100), ``select`` (once or per-draw),
        ``balanced`` (true), ``features`` (model, or pixels for the raw-pixel baseline) and
        ``chunk`` (250 images per forward pass). Writes ``svm-features.json`` (every draw's
        error, the chosen C, the validation curve) to ``out_dir``."""
        self.check(model, dataset)
        o = self.opts
        options = {"labels": o.labels, "draws": o.draws, "balanced": o.balanced,
                   "select": o.select, "seed": seed}
        chunk = o.chunk
        if self.opts.features == "pixels":
            results = run_protocol(dataset, pixel_features, **options) * model.replicas
        else:
            results = run_protocol(dataset, lambda x: model_features(model, x, chunk),
                                   **options)
        metrics: dict[str, list[float]] = {m: [] for m in self.metrics}
        for res in results:
            s = res.summary()
            for m in self.metrics:
                metrics[m].append(float(s[m]))
        artifacts = {}
        if out_dir is not None:
            path = Path(out_dir) / "svm-features.json"
            atomic_write_json(path, {
                "protocol": {**options, "features": self.opts.features,
                             "log_c_grid": c_grid().log().tolist()},
                "seeds": {str(s): r.summary() for s, r in zip(model.seeds, results,
                                                               strict=True)}})
            artifacts["svm-features"] = str(path)
        return EvalResult(metrics, artifacts)

