"""Training throughput of ALI's SVHN preset (Table 4) against a plain eager loop of the same nets.

Both sides train ALI at batch 100 on the same SVHN-format data: synthetic ``train_32x32.mat``
(``--n`` images) and ``test_32x32.mat`` written to a temporary folder, so the bench runs offline.

- **reference**: the loop most PyTorch code would write, here in this file: ``nn.Sequential``
  networks of Table 4's rows (``nn.Dropout``, ``nn.BatchNorm2d``, ``nn.LeakyReLU``, NCHW
  tensors), N(0, 0.01) weights, ``torch.optim.Adam`` with the table's settings and PyTorch's
  defaults otherwise, both losses read with ``.item()`` every step. D is updated, then G
  against the updated D on one batch of [real; fake] pairs: the same game as genzoo's preset
  (``update_order=d_then_g``, BatchNorm over the joint batch).
- **genzoo**: ``Trainer.fit`` of the ``ali`` model with the svhn default preset (Table 4), the
  batches drawn by genzoo's SVHN dataset, metrics logged every 100 steps: what
  ``genzoo train ali --dataset svhn`` runs.

Rounds alternate between the two, so that load on the machine hits both alike; it prints
images/s per round and the median of the per-round ratios. ``--precision bf16`` adds genzoo
with bfloat16 autocast (``genzoo train --precision bf16``) as a third column, ``tf32`` (CUDA)
genzoo on TensorFloat-32 units. ``--device cuda`` runs both sides on the GPU (the reference
then runs as PyTorch's defaults leave it: cuDNN's TF32 on, matmul TF32 off).

    .venv/bin/python bench/image_throughput.py [--rounds 3] [--steps 10] [--precision bf16]
    .venv/bin/python bench/image_throughput.py --device cuda --steps 50 --precision tf32
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH = 100


def reference_step(data: torch.Tensor, seed: int = 0, device: str = "cpu"
                   ) -> Callable[[], tuple[float, float]]:
    """One plain eager ALI step on Table 4's networks, drawing batches from ``data`` (uint8,
    moved to ``device`` with the networks)."""
    from genzoo_plugins.common import image_specs

    spec = image_specs.SVHN
    torch.manual_seed(seed)

    def seq(rows, cin: int, last: int | None = None) -> tuple[nn.Sequential, int]:
        mods: list[nn.Module] = []
        for i, r in enumerate(rows):
            cout = last if last is not None and i == len(rows) - 1 else r.channels
            if r.dropout:
                mods.append(nn.Dropout(r.dropout))
            conv = nn.Conv2d if r.op == "conv" else nn.ConvTranspose2d
            mods.append(conv(cin, cout, r.kernel, r.stride, bias=not r.bn))
            nn.init.normal_(mods[-1].weight, 0.0, spec.init_std)
            if r.bn:
                mods.append(nn.BatchNorm2d(cout))
            if r.act == "lrelu":
                mods.append(nn.LeakyReLU(spec.slope))
            elif r.act == "sigmoid":
                mods.append(nn.Sigmoid())
            cin = cout
        return nn.Sequential(*mods), cin

    encoder, _ = seq(spec.encoder, 3, 2 * spec.z_dim)
    decoder, _ = seq(spec.decoder, spec.z_dim, 3)
    disc_x, cx = seq(spec.disc_x, 3)
    disc_z, cz = seq(spec.disc_z, spec.z_dim)
    joint, _ = seq(spec.disc_joint, cx + cz, 1)
    disc = nn.ModuleList([disc_x, disc_z, joint]).to(device)
    encoder, decoder, data = encoder.to(device), decoder.to(device), data.to(device)
    betas = (spec.beta1, spec.beta2)
    opt_d = torch.optim.Adam(disc.parameters(), lr=spec.lr, betas=betas)
    opt_g = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=spec.lr,
                             betas=betas)

    def d(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return joint(torch.cat([disc_x(x), disc_z(z[:, :, None, None])], 1)).flatten()

    def step() -> tuple[float, float]:
        x = data[torch.randint(len(data), (BATCH,), device=device)].float() / 255.0
        z = torch.randn(BATCH, spec.z_dim, device=device)
        mu, log_sigma = encoder(x).flatten(1).chunk(2, 1)
        z_hat = mu + log_sigma.exp() * torch.randn_like(mu)
        x_tilde = decoder(z[:, :, None, None])
        logits = d(torch.cat([x, x_tilde.detach()]), torch.cat([z_hat.detach(), z]))
        loss_d = F.softplus(-logits[:BATCH]).mean() + F.softplus(logits[BATCH:]).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        logits = d(torch.cat([x, x_tilde]), torch.cat([z_hat, z]))
        loss_g = F.softplus(logits[:BATCH]).mean() + F.softplus(-logits[BATCH:]).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        return loss_d.item(), loss_g.item()

    return step


def genzoo_trainer(data_dir: Path, precision: str = "fp32", device: str = "cpu"):
    """genzoo's trainer for ``ali`` on svhn at its default preset (Table 4), no run folder."""
    from genzoo import api
    from genzoo.core import plugins
    from genzoo.training.trainer import TrainSettings

    settings = TrainSettings(steps=1, batch_size=BATCH, log_every=100, checkpoint_every=0,
                             precision=precision)
    session = api.start(plugins.registry(), "ali", "svhn", out=None, settings=settings,
                        device=device, data_options={"data_dir": data_dir, "verify": False})
    return session.trainer


def timed_steps(run: Callable[[int], None], steps: int, device: str = "cpu") -> float:
    """Images/s of ``run(steps)`` (on a GPU, up to the end of its queued work)."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    t0 = time.perf_counter()
    run(steps)
    sync()
    return steps * BATCH / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10, help="steps per side and round")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--n", type=int, default=5000, help="synthetic training images")
    ap.add_argument("--precision", choices=("fp32", "tf32", "bf16"), default="fp32",
                    help="tf32 (CUDA) / bf16: also time genzoo with that precision")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (both sides run there)")
    args = ap.parse_args()
    from synthetic_svhn import write_svhn

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["GENZOO_CACHE"] = str(root / "cache")  # never the user's cache
        write_svhn(root, args.n)

        trainers = {"genzoo": genzoo_trainer(root, device=args.device)}
        if args.precision != "fp32":
            trainers[f"genzoo {args.precision}"] = genzoo_trainer(root, args.precision,
                                                                  args.device)
        data = trainers["genzoo"].dataset.examples("train")[0]
        ref = reference_step(torch.as_tensor(np.asarray(data)), device=args.device)

        def run_ref(n: int) -> None:
            for _ in range(n):
                ref()

        def runner(trainer) -> Callable[[int], None]:
            def run(n: int) -> None:
                trainer.settings.steps = trainer.step + n
                trainer.fit()
            return run

        sides = {"reference": run_ref, **{k: runner(t) for k, t in trainers.items()}}
        for run in sides.values():
            run(args.warmup)
        rates: dict[str, list[float]] = {k: [] for k in sides}
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, "
              f"{args.steps} steps a side per round; images/s:")
        print("round " + " ".join(f"{k:>12s}" for k in sides) + "   ratio to reference")
        for r in range(args.rounds):
            for k, run in sides.items():
                rates[k].append(timed_steps(run, args.steps, args.device))
            ratios = " ".join(f"{rates[k][-1] / rates['reference'][-1]:.2f}x"
                              for k in sides if k != "reference")
            print(f"{r + 1:5d} " + " ".join(f"{rates[k][-1]:12.1f}" for k in sides) +
                  f"   {ratios}")
        for k in sides:
            if k == "reference":
                continue
            ratio = statistics.median(a / b for a, b in zip(rates[k], rates["reference"],
                                                            strict=True))
            print(f"median: {k} {statistics.median(rates[k]):.1f} images/s, reference "
                  f"{statistics.median(rates['reference']):.1f} images/s: {ratio:.2f}x")


if __name__ == "__main__":
    main()
