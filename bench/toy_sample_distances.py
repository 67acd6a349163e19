"""Where a toy model's samples land: distance to the nearest mode, per seed.

    .venv/bin/python bench/toy_sample_distances.py [--model ali] [--seeds 0,1,2] [--steps N]
                                                  [--set KEY=VALUE ...]

Trains the model (default preset plus ``--set``) on grid25 with its seeds vectorized, draws
2,500 samples per seed from the "eval" stream (as ``mode-coverage`` does), and prints the
fraction within 0.15 (PacGAN's high quality: 3 sigma), 0.3, 0.5 and 1.0 of the nearest mode,
the RMS distance of the samples within 0.5 of a mode (the data's is sigma * sqrt(2) = 0.071),
and the PacGAN protocol's modes / high quality / reverse KL. A sample 0.5-1.0 from every mode
lies on a bridge between two modes; one 0.15-0.3 away is a mode drawn too wide.
"""

from __future__ import annotations

import argparse
import time

import torch

from genzoo.api import build_model_from_config
from genzoo.core import config as config_lib
from genzoo.core import plugins
from genzoo.core.rng import ReplicaRNG
from genzoo.evaluators.mode_coverage import nearest_mode, pacgan_protocol
from genzoo.training.trainer import Trainer, TrainSettings

RADII = (0.15, 0.3, 0.5, 1.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="ali")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated")
    p.add_argument("--steps", type=int, help="default: the model's Config.steps")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()

    reg = plugins.registry()
    cls, data = reg.model(args.model), reg.dataset("grid25")
    config = cls.make_config(data.spec, "default",
                             config_lib.parse_overrides(cls.Config, args.sets))
    seeds = [int(s) for s in args.seeds.split(",")]
    model = build_model_from_config(cls, config, data, seeds)
    steps = args.steps or config.steps
    trainer = Trainer(model, data, TrainSettings(steps=steps, batch_size=config.batch_size,
                                                 log_every=10**9, checkpoint_every=0))
    started = time.perf_counter()
    trainer.fit()
    print(f"{args.model}, seeds {seeds}, {steps} steps, {' '.join(args.sets) or 'defaults'}: "
          f"trained in {time.perf_counter() - started:.1f} s")

    model.eval()
    with torch.no_grad():
        x = model.sample(2500, ReplicaRNG(seeds, "eval"))
    _, dist = nearest_mode(x, data.means)
    for r in RADII:
        within = (dist < r).double().mean(-1)
        print(f"within {r:<4} of a mode  " + "  ".join(f"{v:.3f}" for v in within.tolist()))
    near = dist < 0.5
    rms = [dist[i][near[i]].square().mean().sqrt().item() for i in range(len(seeds))]
    print("RMS distance within 0.5  " + "  ".join(f"{v:.3f}" for v in rms) + "  (data 0.071)")
    pac = pacgan_protocol(x, data.means, data.std)
    print(f"PacGAN protocol: modes {pac['modes'].mean():.1f}, high quality "
          f"{pac['high_quality'].mean():.1%}, reverse KL {pac['reverse_kl'].mean():.3f}")


if __name__ == "__main__":
    main()
