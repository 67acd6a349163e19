"""How fast datasets hand out batches, next to the cost of a training step they feed.

Prints, for each dataset: the one-off load time (decode, or memory-map of the decoded cache) and
images/s of ``draw(100, generator)`` (uint8 index + float conversion), all measured in this run.
File-format datasets use synthetic files written to a temporary folder (SVHN-format .mat,
CIFAR-10 pickles, a CelebA-layout folder of JPEGs), so it runs offline:

    .venv/bin/python bench/data_throughput.py [--n-svhn 20000] [--n-celeba 2000]
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH = 100


def draw_rate(ds, seconds: float = 1.0) -> float:
    g = torch.Generator().manual_seed(0)
    ds.draw(BATCH, g)  # warm-up (and first load)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        ds.draw(BATCH, g)
        n += BATCH
    return n / (time.perf_counter() - t0)


def torch_draw_rate(ds, seconds: float = 1.0) -> float:
    """The same draw done with torch ops (index_select, float, div): what to_float avoids."""
    g = torch.Generator().manual_seed(0)
    x, _ = ds.examples("train")
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        idx = torch.randint(len(x), (BATCH,), generator=g)
        x.index_select(0, idx).to(torch.float32).div_(255.0)
        n += BATCH
    return n / (time.perf_counter() - t0)


def timed(build):
    t0 = time.perf_counter()
    ds = build()
    ds.examples("train")
    return ds, time.perf_counter() - t0


def step_rate(shape: tuple[int, ...], seconds: float = 2.0) -> float:
    """Images/s of one forward+backward of a small DCGAN-style conv discriminator, batch 100:
    a floor for what any image model's train step costs per image."""
    c, h, _ = shape
    layers, ch = [], c
    for out in (64, 128, 256):
        layers += [torch.nn.Conv2d(ch, out, 4, 2, 1), torch.nn.LeakyReLU(0.2)]
        ch, h = out, h // 2
    net = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(ch * h * h, 1))
    x = torch.rand(BATCH, *shape)
    net(x).mean().backward()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        net(x).mean().backward()
        n += BATCH
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-svhn", type=int, default=20000)
    ap.add_argument("--n-celeba", type=int, default=2000)
    args = ap.parse_args()
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["GENZOO_CACHE"] = str(root / "cache")  # never the user's cache
        from synthetic_svhn import write_svhn

        from genzoo.data.celeba import CelebA
        from genzoo.data.cifar10 import CIFAR10
        from genzoo.data.packaged import digits, faces, mnist5k
        from genzoo.data.svhn import SVHN

        write_svhn(root, args.n_svhn)
        rng = np.random.default_rng(0)
        cdir = root / "cifar10" / "cifar-10-batches-py"
        cdir.mkdir(parents=True)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            with open(cdir / name, "wb") as f:
                pickle.dump({b"data": rng.integers(0, 256, (10000, 3072), dtype=np.uint8),
                             b"labels": rng.integers(0, 10, 10000).tolist()}, f, protocol=2)
        cel = root / "celeba"
        (cel / "img_align_celeba").mkdir(parents=True)
        names = [f"{i + 1:06d}.jpg" for i in range(args.n_celeba)]
        for name in names:
            img = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
            Image.fromarray(img).save(cel / "img_align_celeba" / name, quality=90)
        (cel / "list_attr_celeba.txt").write_text(
            f"{len(names)}\n" + " ".join(f"A{k}" for k in range(40)) + "\n" +
            "".join(f"{n} " + " ".join(["1"] * 40) + "\n" for n in names))
        (cel / "list_eval_partition.txt").write_text("".join(f"{n} 0\n" for n in names))

        rows = []
        opts = {"data_dir": root, "verify": False}
        cases = [("mnist5k", mnist5k), ("digits", digits), ("faces", faces),
                 (f"svhn ({args.n_svhn:,} synthetic)", lambda: SVHN(**opts)),
                 ("svhn again (decoded cache, mmap)", lambda: SVHN(**opts)),
                 ("cifar10 (50,000 synthetic)", lambda: CIFAR10(**opts)),
                 (f"celeba ({args.n_celeba:,} synthetic JPEGs)", lambda: CelebA(**opts)),
                 ("celeba again (decoded cache, mmap)", lambda: CelebA(**opts))]
        for label, build in cases:
            ds, load_s = timed(build)
            rows.append((label, tuple(ds.spec.x_shape), load_s, draw_rate(ds)))
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}")
        print(f"{'dataset':40s} {'shape':12s} {'load s':>8s} {'draw img/s':>12s}")
        for label, shape, load_s, rate in rows:
            print(f"{label:40s} {str(shape):12s} {load_s:8.2f} {rate:12,.0f}")
        if args.n_celeba:
            decode_s = rows[6][2]
            print(f"celeba first load decodes {args.n_celeba / decode_s:,.0f} JPEG/s")
        ds = mnist5k()
        print(f"mnist5k draw with torch ops instead of numpy: {torch_draw_rate(ds):,.0f} img/s "
              f"(numpy: {draw_rate(ds):,.0f})")
        for shape in ((3, 32, 32), (3, 64, 64)):
            step = step_rate(shape)
            draw = next(r[3] for r in rows if r[1] == shape and "again" in r[0])
            print(f"reference conv D fwd+bwd {shape}: {step:,.0f} img/s; a draw costs "
                  f"{100 * step / draw:.2f}% of such a step")


if __name__ == "__main__":
    main()
