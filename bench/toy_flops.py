"""Achieved FLOP rate of a toy training step next to this machine's fp32 matmul rate.

    .venv/bin/python bench/toy_flops.py [--model ali] [--seeds 10] [--steps 50] [--set K=V ...]

Both numbers come from the same run:

- **peak**: a large ``torch.mm`` (fp32, square, 2 n^3 FLOPs per product), best of a few
  timed repeats, using the threads torch uses for training.
- **step**: the model's ``train_step`` at its default preset (batch size from its Config),
  with all seeds vectorized as in ``genzoo compare``. FLOPs per step are counted with
  torch's flop-counter formulas (``FlopCount``) over real steps, averaged over a whole cycle
  of the lazy R1 penalty (it runs every ``r1_every`` steps): every matmul that runs
  (the replica-batched ``baddbmm`` of each Linear layer forward, and the ``bmm`` products of
  its backward: the weight gradient always, the input gradient only where autograd needs it).
  That is the Linear layers' forward + backward work as executed; elementwise work
  (activations, BatchNorm, Adam) and data drawing cost time but are not counted. The
  analytic count "forward + 2 x forward for backward" of the Linear layers is printed too.
- **ratio** = achieved step FLOP rate / peak matmul rate, taken within each round (a block
  of steps, then the peak), and the median over the rounds printed: this machine's speed
  drifts by 10-30 % over minutes, so a step time and a peak taken apart do not compare.
- **matmuls in place / ceiling**: one more block of steps with every matmul timed as it runs:
  their share of the step, their own rate against the peak (small and thin products with cold
  caches run below a large square ``mm``), and the ratio the step would reach if all its
  other work (activations, BatchNorm, Adam, data) cost nothing.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from genzoo.api import build_model_from_config
from genzoo.core import config as config_lib
from genzoo.core import plugins
from genzoo.layers import Linear
from genzoo.training.trainer import Trainer, TrainSettings


class FlopCount(TorchDispatchMode):
    """FLOPs of every op torch's flop counter knows (matmuls, convolutions), counted as they
    run. ``FlopCounterMode`` itself cannot follow the R1 penalty's ``autograd.grad`` (its
    module tracker raises there), so this counts with its formulas and no module tracking."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


class MatmulTime(TorchDispatchMode):
    """Seconds spent inside the matmul ops (``bmm``, ``baddbmm``, ``mm``, ``addmm``) as they
    run in the step, and the FLOPs they did: the step's matmuls at their in-place rate, with
    the caches as the rest of the step leaves them."""

    OPS = ("bmm", "baddbmm", "mm", "addmm")

    def __init__(self) -> None:
        super().__init__()
        self.seconds, self.flops = 0.0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func._overloadpacket.__name__ not in self.OPS:
            return func(*args, **kwargs)
        start = time.perf_counter()
        out = func(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        self.flops += flop_registry[func._overloadpacket](*args, **kwargs, out_val=out)
        return out


def matmul_rate(n: int = 2048, seconds: float = 1.0, repeats: int = 3) -> float:
    """Best GFLOP/s of ``torch.mm`` on two n x n fp32 matrices."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = 0.0
    for _ in range(repeats):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / repeats:
            torch.mm(a, b)
            count += 1
        best = max(best, 2 * n**3 * count / (time.perf_counter() - start) / 1e9)
    return best


def linear_rows(model: torch.nn.Module, trainer: Trainer, cycle: int) -> float:
    """Analytic Linear FLOPs per step over ``cycle`` steps: forward rows counted by hooks,
    times 3."""
    total = 0

    def hook(module: Linear, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        nonlocal total
        total += module.flops(inputs[0].shape[1])

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, Linear)]
    for _ in range(cycle):
        model.train_step(trainer.draw(), trainer.step, trainer.settings.steps)
        trainer.step += 1
    for h in handles:
        h.remove()
    return 3 * total / cycle


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="ali")
    p.add_argument("--toy", default="grid25")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--steps", type=int, default=50, help="timed steps (after warm-up)")
    p.add_argument("--repeats", type=int, default=5,
                   help="rounds of timed steps, each followed by a peak measurement")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()

    reg = plugins.registry()
    cls = reg.model(args.model)
    data = reg.dataset(args.toy)
    config = cls.make_config(data.spec, "default",
                             config_lib.parse_overrides(cls.Config, args.sets))
    seeds = list(range(args.seeds))
    # lazy R1 runs every r1_every steps: count and time whole cycles of that many steps
    cycle = getattr(config, "r1_every", 1) if getattr(config, "r1_gamma", 0) > 0 else 1
    args.steps = -(-args.steps // cycle) * cycle
    model = build_model_from_config(cls, config, data, seeds)
    total = args.steps * args.repeats + 4 + 2 * cycle
    trainer = Trainer(model, data, TrainSettings(steps=total, batch_size=config.batch_size,
                                                 log_every=10**9, checkpoint_every=0))
    model.train()

    def step() -> None:
        model.train_step(trainer.draw(), trainer.step, total)
        trainer.step += 1

    for _ in range(4):  # warm-up: allocator, first-call kernels
        step()
    with FlopCount() as counter:
        for _ in range(cycle):
            step()
    counted = counter.total / cycle
    analytic = linear_rows(model, trainer, cycle)

    # the machine's speed drifts (other tenants): each round times a block of steps and the
    # matmul peak back to back, and the ratio is taken within the round
    rounds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        seconds = (time.perf_counter() - start) / args.steps
        rounds.append((seconds, matmul_rate(seconds=0.6)))
    ratios = sorted(counted / s / 1e9 / peak for s, peak in rounds)
    # where the time goes: the matmuls' own seconds in the step (the mode sees every op, which
    # slows the step's Python side, not the matmuls; their share is of the rounds' median step)
    with MatmulTime() as mm:
        for _ in range(args.steps):
            step()
    in_step = sorted(s for s, _ in rounds)[len(rounds) // 2]
    mm_step, mm_rate = mm.seconds / args.steps, mm.flops / mm.seconds / 1e9
    peak_now = matmul_rate(seconds=0.6)
    best = min(s for s, _ in rounds)
    print(f"threads            {torch.get_num_threads()}")
    print(f"model              {args.model} ({args.seeds} seeds vectorized, batch "
          f"{config.batch_size} per seed, default preset)")
    print(f"FLOPs per step     {counted / 1e9:.3f} GFLOP counted, mean over {cycle} step(s) "
          f"(Linear fwd + 2x bwd analytic: {analytic / 1e9:.3f} GFLOP)")
    print(f"step time          {best * 1e3:.2f} ms (best of {args.repeats} x {args.steps}); "
          f"rounds: " + ", ".join(f"{s * 1e3:.1f}" for s, _ in rounds))
    print(f"achieved           {counted / best / 1e9:.1f} GFLOP/s (best round)")
    print("fp32 matmul peak   " + ", ".join(f"{p:.1f}" for _, p in rounds)
          + " GFLOP/s (torch.mm 2048x2048, after each round)")
    print(f"ratio              {ratios[len(ratios) // 2]:.1%} median of the rounds' ratios "
          f"(min {ratios[0]:.1%}, max {ratios[-1]:.1%})")
    print(f"matmuls in place   {mm_step * 1e3:.2f} ms of the median {in_step * 1e3:.2f} ms step "
          f"({mm_step / in_step:.0%}), at {mm_rate:.1f} GFLOP/s = {mm_rate / peak_now:.0%} of the "
          f"peak {peak_now:.1f} measured next")
    print(f"ceiling            {counted / mm_step / 1e9 / peak_now:.1%}: the ratio if everything "
          f"but the matmuls cost nothing")

if __name__ == "__main__":
    main()
