"""mean-error: how far the mean of a model's samples is from the mean of held-out data."""

from __future__ import annotations

from pathlib import Path

from genzoo import Model
from genzoo.data.base import Dataset
from genzoo.evaluators.base import EvalResult, Evaluator, eval_rng, heldout


class MeanError(Evaluator):
    """Euclidean distance between the sample mean and the data mean (per seed)."""

    name = "mean-error"
    requires = frozenset({"sample"})
    metrics = ("mean_error",)

    def evaluate(self, model: Model, dataset: Dataset, *, seed: int = 0,
                 out_dir: Path | None = None) -> EvalResult:
        n = int(self.options.get("n", 5000))
        # Our own generators, one per replica (never the model's training noise), so replica i
        # scores the same whether its seed was trained alone or with others.
        rng = eval_rng(model, seed)
        data, _ = heldout(dataset, rng, n)  # (R, n, *x_shape)
        samples = model.sample(n, rng).cpu()
        gap = samples.flatten(2).mean(1) - data.flatten(2).mean(1)  # (R, dim)
        values = gap.norm(dim=-1).tolist()
        artifacts = {}
        if out_dir is not None:  # out_dir is None when the model has no run directory
            path = Path(out_dir) / "mean-error.txt"
            lines = [f"seed {s}: {v:.6f}\n" for s, v in zip(model.seeds, values, strict=True)]
            path.write_text("".join(lines))
            artifacts["per_seed"] = str(path)
        return EvalResult({"mean_error": values}, artifacts)
