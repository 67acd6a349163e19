"""A run's TensorBoard event files, ``RUN/tensorboard/``, for ``tensorboard --logdir runs``.

What is written: every metrics.jsonl record's scalars under ``train/`` at its step; the
per-epoch sample and reconstruction grids of image runs (``samples/``, ``reconstructions/``);
a scatter of toy samples at every checkpoint; the evaluators' metrics under ``eval/`` at the
step they scored. A resumed run opens its writer with ``purge_step`` one past its checkpoint,
so the records logged after that checkpoint by the interrupted attempt are dropped, as
metrics.jsonl's are. Only the process that writes the run (rank 0 under torchrun) writes here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

DIRNAME = "tensorboard"
NOT_SCALARS = ("step", "seconds", "per_seed")


class Board:
    """A SummaryWriter on ``run_dir/tensorboard`` (imported only when a run writes one)."""

    def __init__(self, run_dir: Path, resume_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        # a resume from step 0 (killed before its first checkpoint) purges too
        purge = resume_step + 1 if resume_step is not None else None
        self.writer = SummaryWriter(str(Path(run_dir) / DIRNAME), purge_step=purge)

    def scalars(self, record: dict[str, Any]) -> None:
        step = int(record["step"])
        for key, value in record.items():
            if key not in NOT_SCALARS and isinstance(value, (int, float)):
                self.writer.add_scalar(f"train/{key}", value, step)
        self.writer.flush()

    def grid(self, tag: str, images: torch.Tensor, step: int, nrow: int = 8) -> None:
        """Images (n, C, H, W) in [0, 1] as one grid."""
        from torchvision.utils import make_grid

        self.writer.add_image(tag, make_grid(images.float().clamp(0, 1), nrow=nrow, padding=2),
                              step)

    def scatter(self, tag: str, points: torch.Tensor, step: int) -> None:
        """Toy samples (n, 2) as a scatter plot."""
        from genzoo.figures.plots import pyplot

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(4, 4))
        xy = points.float().cpu().numpy()
        ax.scatter(xy[:, 0], xy[:, 1], s=2, alpha=0.5)
        ax.set_aspect("equal")
        self.writer.add_figure(tag, fig, step)  # closes the figure
        self.writer.flush()

    def metrics(self, summaries: dict[str, dict[str, dict[str, Any]]], step: int) -> None:
        """``{evaluator: {metric: {"mean": ...}}}`` at ``step``."""
        for evaluator, metrics in summaries.items():
            for metric, summary in metrics.items():
                mean = summary.get("mean")
                if isinstance(mean, (int, float)):
                    self.writer.add_scalar(f"eval/{evaluator}/{metric}", mean, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
