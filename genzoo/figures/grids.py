"""Image grids as PNG: samples, reconstructions in the paper's layout, interpolations.

Every function takes float images (N, C, H, W) with values in [0, 1] (what image datasets give
and image models return) and writes an 8-bit PNG through torchvision, grayscale as grayscale.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genzoo.core.atomic import atomic_file


def tile(images: torch.Tensor, ncol: int, pad: int = 2) -> torch.Tensor:
    """(N, C, H, W) -> one (C, H', W') image, ``ncol`` images a row, ``pad`` white pixels apart."""
    from torchvision.utils import make_grid

    images = images.detach().float().cpu().clamp(0, 1)
    grid = make_grid(images, nrow=ncol, padding=pad, pad_value=1.0)
    # make_grid repeats one channel to three; keep grayscale a one-channel PNG
    return grid[:1] if images.shape[1] == 1 else grid


def save_png(image: torch.Tensor, path: str | Path) -> Path:
    """Write one (C, H, W) float image in [0, 1] as PNG atomically; returns the path."""
    from torchvision.io import write_png

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    if pixels.shape[0] not in (1, 3):
        raise ValueError(f"a PNG needs 1 or 3 channels, got {pixels.shape[0]}")
    with atomic_file(path) as tmp:
        write_png(pixels, str(tmp))
    return path


def save_grid(images: torch.Tensor, path: str | Path, ncol: int | None = None) -> Path:
    """Samples as a near-square grid (or ``ncol`` a row)."""
    ncol = ncol or max(1, math.ceil(math.sqrt(len(images))))
    return save_png(tile(images, ncol), path)


def interleave(originals: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """x_0, x̂_0, x_1, x̂_1, ...: read row-wise in a grid with an even number of columns,
    odd columns hold originals and even columns their reconstructions (the paper's layout)."""
    if originals.shape != reconstructions.shape:
        raise ValueError(f"originals {tuple(originals.shape)} and reconstructions "
                         f"{tuple(reconstructions.shape)} differ in shape")
    return torch.stack([originals, reconstructions], dim=1).flatten(0, 1)


def save_reconstructions(originals: torch.Tensor, reconstructions: torch.Tensor,
                         path: str | Path, pairs_per_row: int = 5) -> Path:
    """Reconstructions in the paper's layout: ``pairs_per_row`` (original, reconstruction)
    pairs a row."""
    return save_png(tile(interleave(originals, reconstructions), 2 * pairs_per_row), path)
