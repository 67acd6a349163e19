"""genzoo.figures.grids: PNG grids keep the images' channels, and reconstructions sit beside
originals."""

from __future__ import annotations

import torch
from torchvision.io import read_image

from genzoo.figures import grids


def test_grayscale_stays_one_channel_and_colour_three(tmp_path):
    gray = read_image(str(grids.save_grid(torch.rand(4, 1, 8, 8), tmp_path / "g.png")))
    colour = read_image(str(grids.save_grid(torch.rand(4, 3, 8, 8), tmp_path / "c.png")))
    assert gray.shape == (1, 22, 22) and colour.shape == (3, 22, 22)


def test_reconstructions_fill_the_even_columns(tmp_path):
    originals, recs = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    png = read_image(str(grids.save_reconstructions(originals, recs, tmp_path / "r.png",
                                                    pairs_per_row=2)))[0]
    # pad 2: image k of the row spans columns 2 + 6k .. 6k + 5
    cells = [png[2:6, 2 + 6 * k: 6 + 6 * k] for k in range(4)]
    assert [int(c.float().mean()) for c in cells] == [0, 255, 0, 255]
