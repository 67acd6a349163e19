"""Image grids a training run writes at the end of every epoch and at its last step.

``samples/epoch_XXX.png``: decoder samples from the same z every epoch (the "eval" stream),
so successive grids show one set of codes maturing. ``reconstructions/epoch_XXX.png``, for
models that reconstruct: the same held-out test images every epoch (the "heldout" stream) in
the paper's layout (odd columns originals, even columns reconstructions). With several seeds
each gets its own folder (``samples/seed_S/``).

Snapshots run in eval mode without gradients and draw only from fresh evaluation generators,
so they leave the training noise and data streams, and with them resume, untouched.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from genzoo.core.model import Model
from genzoo.core.rng import ReplicaRNG
from genzoo.data.base import Dataset
from genzoo.figures.grids import save_grid, save_reconstructions

SAMPLES = 64  # an 8 × 8 grid
RECONSTRUCTIONS = 50  # 5 rows of 10 (original, reconstruction) pairs
PAIRS_PER_ROW = 10


@contextmanager
def evaluating(model: Model) -> Iterator[None]:
    """``model`` in eval mode without gradients; its mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def steps_per_epoch(dataset: Dataset, batch_size: int) -> int | None:
    """ceil(training images / batch size), or None when the dataset does not say its size."""
    size = dataset.size("train")
    return None if size is None else max(1, math.ceil(size / batch_size))


class Snapshots:
    """Writes the grids into ``run_dir`` every ``every`` steps and at the last step."""

    def __init__(self, model: Model, dataset: Dataset, run_dir: Path, every: int):
        self.model, self.dataset, self.run_dir, self.every = model, dataset, Path(run_dir), every
        self.board: Any = None  # a genzoo.training.tblog.Board: the same grids into TensorBoard
        self.step = 0

    @classmethod
    def for_run(cls, model: Model, dataset: Dataset, run_dir: Path | None,
                batch_size: int) -> Snapshots | None:
        """Snapshots for image data with a run directory and a model that samples, else None."""
        if run_dir is None or dataset.spec.kind != "image" or not model.can("sample"):
            return None
        every = steps_per_epoch(dataset, batch_size)
        return None if every is None else cls(model, dataset, run_dir, every)

    def after_step(self, step: int, last: bool) -> None:
        self.step = step
        if step % self.every == 0 or last:
            self.write(math.ceil(step / self.every))

    def write(self, epoch: int) -> list[Path]:
        model, name, written = self.model, f"epoch_{epoch:03d}.png", []
        with evaluating(model):
            samples = model.sample(SAMPLES, ReplicaRNG(model.seeds, "eval")).cpu()
            for i, seed in enumerate(model.seeds):
                written.append(save_grid(samples[i], self._path("samples", i) / name))
                if self.board is not None:
                    self.board.grid(f"samples/seed_{seed}", samples[i], self.step)
            if not model.can("reconstruct"):
                return written
            x = self._heldout().to(model.device)
            rec = model.reconstruct(x, ReplicaRNG(model.seeds, "eval")).cpu()
            for i, seed in enumerate(model.seeds):
                written.append(save_reconstructions(x[i].cpu(), rec[i],
                                                    self._path("reconstructions", i) / name,
                                                    pairs_per_row=PAIRS_PER_ROW))
                if self.board is not None:  # originals and reconstructions, row by row
                    pairs = torch.stack([x[i].cpu(), rec[i]], dim=1).flatten(0, 1)
                    self.board.grid(f"reconstructions/seed_{seed}", pairs, self.step,
                                    nrow=2 * PAIRS_PER_ROW)
        return written

    def _heldout(self) -> torch.Tensor:
        """The same RECONSTRUCTIONS test images every epoch, one draw per seed (R, n, ...)."""
        split = "test" if "test" in self.dataset.splits else "train"
        rng = ReplicaRNG(self.model.seeds, "heldout")
        return torch.stack([self.dataset.draw(RECONSTRUCTIONS, g, split=split)[0]
                            for g in rng.generators])

    def _path(self, kind: str, replica: int) -> Path:
        if len(self.model.seeds) == 1:
            return self.run_dir / kind
        return self.run_dir / kind / f"seed_{self.model.seeds[replica]}"
