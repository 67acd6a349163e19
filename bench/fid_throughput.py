"""FID's Inception pass on this CPU next to its fp32 matmul rate, and what a cached reference saves.

    .venv/bin/python bench/fid_throughput.py [--batch 100] [--batches 1] [--plain]
                                             [--fid-images 20]

All numbers come from the same run:

- **peak**: ``torch.mm`` on 2048x2048 fp32 matrices (bench/toy_flops.py's ``matmul_rate``),
  measured before and after the Inception timings; the best is the reference, the spread shows
  how busy the machine was.
- **Inception**: images/s of the extractor genzoo uses (torch-fidelity's
  FeatureExtractorInceptionV3, "2048" features; batch norms folded into the convs,
  channels-last, ``inference_mode``) on ``--batch`` uint8 32x32 RGB images, which it resizes
  to 299x299 itself; best of ``--batches`` timed batches after a small warm-up. FLOP rate =
  images/s x 11.4 GFLOP (5.7 G multiply-adds per 299x299 image; the FLOPs counted by
  ``FlopCounterMode`` on one image are printed too). ``--plain`` also times torch-fidelity's
  module as it comes (NCHW, separate batch norms) for comparison.
- **second FID**: wall time of FID between ``--fid-images`` mnist5k test digits (the reference)
  and as many noise images, first with an empty statistics cache and then again against the
  cached reference with new noise images: only the generated side is embedded.

Features are fp32 throughout (no bf16): they must equal torch-fidelity's within 1e-4.
torch.compile was tried and not kept: ~95 s to compile on 2 cores and no faster than eager.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

GFLOP_PER_IMAGE = 11.4


def images_per_second(net: torch.nn.Module, x: torch.Tensor, batches: int) -> float:
    with torch.inference_mode():
        net(x[:2])  # warm-up: allocator, first-call kernels
        best = float("inf")
        for _ in range(batches):
            start = time.perf_counter()
            net(x)
            best = min(best, time.perf_counter() - start)
    return len(x) / best


def counted_gflop(net: torch.nn.Module) -> float:
    x = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(x)
    return counter.get_total_flops() / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=100, help="images per Inception pass")
    ap.add_argument("--batches", type=int, default=1, help="timed passes (best is kept)")
    ap.add_argument("--plain", action="store_true",
                    help="also time torch-fidelity's unmodified module")
    ap.add_argument("--fid-images", type=int, default=20,
                    help="images on each side of the cached-reference FID timing")
    ap.add_argument("--weights", default=None, help="Inception weights (default: as genzoo "
                                                    "finds them)")
    args = ap.parse_args()

    from toy_flops import matmul_rate

    from genzoo.core import plugins
    from genzoo.evaluators import frechet as fid
    from genzoo.evaluators import inception as fid_weights

    weights = fid_weights.find_weights(args.weights)
    net = fid.InceptionFeatures(weights)
    x = torch.randint(0, 256, (args.batch, 3, 32, 32), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(0))
    peak_before = matmul_rate()
    rate = images_per_second(net.net, x, args.batches)
    plain = None
    if args.plain:
        plain = images_per_second(fid_weights.build_extractor(weights), x, args.batches)
    peak_after = matmul_rate()
    peak = max(peak_before, peak_after)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; weights "
          f"{weights.origin} ({weights.path.name})")
    print(f"FLOPs per image      {GFLOP_PER_IMAGE} GFLOP nominal, "
          f"{counted_gflop(net.net):.2f} GFLOP counted (FlopCounterMode)")
    print(f"fp32 matmul peak     {peak:.1f} GFLOP/s (before {peak_before:.1f}, after "
          f"{peak_after:.1f})")
    print(f"Inception, batch {args.batch:<4d}{rate:8.2f} images/s = "
          f"{rate * GFLOP_PER_IMAGE:.1f} GFLOP/s")
    print(f"ratio                {rate * GFLOP_PER_IMAGE / peak:.1%} of the matmul peak "
          f"(target >= 50%)")
    if plain is not None:
        print(f"torch-fidelity as is {plain:8.2f} images/s = {plain * GFLOP_PER_IMAGE:.1f} "
              f"GFLOP/s ({plain * GFLOP_PER_IMAGE / peak:.1%}); genzoo's is "
              f"{rate / plain:.2f}x")

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GENZOO_CACHE"] = tmp  # an empty statistics cache, never the user's
        n = args.fid_images
        real = plugins.registry().dataset("mnist5k").examples("test")[0][:n]
        gen = torch.Generator().manual_seed(1)
        times = []
        for _ in range(2):
            noise = torch.randint(0, 256, (n, 1, 32, 32), dtype=torch.uint8, generator=gen)
            start = time.perf_counter()
            reference = fid.image_stats([real], net)
            value = fid.fid(fid.Stats.of(net(noise)), reference)
            times.append(time.perf_counter() - start)
        print(f"FID of {n} vs {n} images: first {times[0]:.2f} s, second (cached reference) "
              f"{times[1]:.2f} s = {times[1] / times[0]:.0%} of the first (FID {value:.1f})")


if __name__ == "__main__":
    main()
