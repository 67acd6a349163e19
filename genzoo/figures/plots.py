"""Small matplotlib helpers shared by the CLI, evaluators and reports (Agg backend, no screen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genzoo.data.base import Dataset


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_samples(x: torch.Tensor, path: Path, dataset: Dataset) -> None:
    """Save samples ``x`` (n, *x_shape): .npy as is; .png as a scatter plot or image grid."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npy":
        np.save(path, x.numpy())
        return
    if dataset.spec.kind == "toy":
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5, 5))
        mixture = dataset.mixture()
        if mixture is not None:
            means = mixture.means
            ax.scatter(means[:, 0], means[:, 1], c="tab:red", marker="x", s=30, label="modes")
        ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.5, label="samples")
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=8)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        return
    from torchvision.utils import save_image

    save_image(x.float().clamp(0, 1), path, nrow=int(np.ceil(np.sqrt(len(x)))))
