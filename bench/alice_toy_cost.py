"""What ALICE's cycle terms cost: its step time over ALI's, taken in one run.

    .venv/bin/python bench/alice_toy_cost.py [--seeds 10] [--steps 40] [--rounds 5] [--set K=V]
    .venv/bin/python bench/alice_toy_cost.py --dataset mnist5k --seeds 1 --steps 20

Both models are built at their default presets on grid25 (or ``--dataset``) with every seed
vectorized, as ``genzoo compare`` trains them, and stepped through the one training loop's
``draw`` and ``train_step``. The rounds alternate (a block of ALI steps, then a block of
ALICE steps), so the machine's drift over minutes falls on both alike; the ratio printed is
the median of the rounds' ratios. ``--set`` applies to alice (e.g. ``--set cycle_z_updates=both``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from genzoo.api import build_model_from_config
from genzoo.core import config as config_lib
from genzoo.core import plugins
from genzoo.training.trainer import Trainer, TrainSettings


def _trainer(name: str, dataset: str, seeds: int, overrides: dict) -> Trainer:
    registry = plugins.registry()
    data = registry.dataset(dataset)
    cls = registry.model(name)
    config = cls.make_config(data.spec, "default", overrides)
    model = build_model_from_config(cls, config, data, list(range(seeds)))
    return Trainer(model, data, TrainSettings(steps=10_000, batch_size=config.batch_size))


def _block(trainer: Trainer, steps: int) -> float:
    model = trainer.model
    model.train()
    started = time.perf_counter()
    for i in range(steps):
        model.train_step(trainer.draw(), i, 10_000)
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="grid25")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40, help="steps per block")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="an alice setting (repeatable)")
    args = parser.parse_args()
    alice_cls = plugins.registry().model("alice")
    overrides = config_lib.parse_overrides(alice_cls.Config, args.settings)
    ali = _trainer("ali", args.dataset, args.seeds, {})
    alice = _trainer("alice", args.dataset, args.seeds, overrides)
    _block(ali, 5)  # warm-up: allocator, first-call costs
    _block(alice, 5)
    ratios = []
    for r in range(args.rounds):
        t_ali, t_alice = _block(ali, args.steps), _block(alice, args.steps)
        ratios.append(t_alice / t_ali)
        print(f"round {r}: ali {1e3 * t_ali:.1f} ms/step, alice {1e3 * t_alice:.1f} ms/step, "
              f"ratio {t_alice / t_ali:.3f}", flush=True)
    print(f"alice / ali step time on {args.dataset}, {args.seeds} seeds, "
          f"{torch.get_num_threads()} threads: median {statistics.median(ratios):.3f} "
          f"(target <= 1.3)")


if __name__ == "__main__":
    main()
