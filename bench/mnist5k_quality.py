"""How well a model learns mnist5k at its defaults, beside a plain eager reference loop.

1. Trains MODEL (default ALI) on mnist5k's 4,000 training digits with ``genzoo train`` as a
   user runs it (a subprocess, its defaults plus any ``--set``), timing it;
2. scores the run with genzoo's evaluators: FID of 1,000 samples against the training split
   (the issue's protocol), ``reconstruction`` (BiGAN's normalised score), ``class-agreement``,
   ``icp`` (with the class shares of samples) and ``svm-features`` (1,000 labels);
3. unless ``--no-reference``: trains the reference, a DCGAN-style ALI written plainly in this
   file (mnist5k's 32×32 padded digits, width 64, batch 64, Adam 2e-4 and β1 0.5,
   BatchNorm in G_x and G_z, D(x, z) with dropout 0.2, the non-saturating loss, D then G on
   one batch), for the same wall time genzoo's training took, and scores it with the same FID
   and classifier.

Both FIDs come from one run, through the same Inception features and reference statistics.

    .venv/bin/python bench/mnist5k_quality.py                       # ali, then the reference
    .venv/bin/python bench/mnist5k_quality.py --model alice --no-reference
    .venv/bin/python bench/mnist5k_quality.py --model gan --set lr_d=1e-4 --svm-draws 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FID_SAMPLES = 1_000
Z_DIM, WIDTH, BATCH = 64, 64, 64


# --- the reference: a plain eager DCGAN-style ALI -------------------------------------------


def _reference_nets() -> tuple[nn.Module, nn.Module, nn.Module, nn.Module, nn.Module]:
    w = WIDTH

    def enc_trunk() -> nn.Sequential:  # 32 -> 16 -> 8 -> 1
        return nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.BatchNorm2d(w), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 2 * Z_DIM, 8))

    decoder = nn.Sequential(
        nn.ConvTranspose2d(Z_DIM, 2 * w, 8), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
        nn.ConvTranspose2d(w, 1, 4, 2, 1), nn.Tanh())
    d_x = nn.Sequential(
        nn.Dropout(0.2), nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Dropout(0.2), nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Dropout(0.2), nn.Conv2d(2 * w, 4 * w, 8), nn.LeakyReLU(0.2), nn.Flatten())
    d_z = nn.Sequential(nn.Dropout(0.2), nn.Linear(Z_DIM, 4 * w), nn.LeakyReLU(0.2),
                        nn.Dropout(0.2), nn.Linear(4 * w, 4 * w), nn.LeakyReLU(0.2))
    d_joint = nn.Sequential(nn.Dropout(0.2), nn.Linear(8 * w, 8 * w), nn.LeakyReLU(0.2),
                            nn.Dropout(0.2), nn.Linear(8 * w, 1))
    nets = (enc_trunk(), decoder, d_x, d_z, d_joint)
    for net in nets:
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)
    return nets


class Reference:
    """The loop most PyTorch code would write for ALI on 32×32 digits."""

    def __init__(self, seed: int = 0):
        torch.manual_seed(seed)
        self.enc, self.dec, self.d_x, self.d_z, self.d_joint = _reference_nets()
        gen = [*self.enc.parameters(), *self.dec.parameters()]
        disc = [*self.d_x.parameters(), *self.d_z.parameters(), *self.d_joint.parameters()]
        self.opt_g = torch.optim.Adam(gen, lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(disc, lr=2e-4, betas=(0.5, 0.999))
        self.steps = 0

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # x in [0, 1]
        mu, log_sigma = self.enc(x * 2 - 1).flatten(1).chunk(2, dim=1)
        return mu + log_sigma.clamp(-12, 6).exp() * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (self.dec(z[:, :, None, None]) + 1) / 2

    def d(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.d_joint(torch.cat([self.d_x(x * 2 - 1), self.d_z(z)], dim=1)).squeeze(1)

    def step(self, x: torch.Tensor) -> None:
        z = torch.randn(len(x), Z_DIM)
        z_hat, x_tilde = self.encode(x), self.decode(z)
        l_real, l_fake = self.d(x, z_hat.detach()), self.d(x_tilde.detach(), z)
        loss_d = F.softplus(-l_real).mean() + F.softplus(l_fake).mean()
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        l_real, l_fake = self.d(x, z_hat), self.d(x_tilde, z)
        loss_g = F.softplus(l_real).mean() + F.softplus(-l_fake).mean()
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        self.steps += 1

    def train_for(self, seconds: float, x_train: torch.Tensor) -> None:
        g = torch.Generator().manual_seed(1)
        for net in (self.enc, self.dec, self.d_x, self.d_z, self.d_joint):
            net.train()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.step(x_train[torch.randint(len(x_train), (BATCH,), generator=g)])

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        self.dec.eval()
        return torch.cat([self.decode(torch.randn(min(250, n - i), Z_DIM))
                          for i in range(0, n, 250)])

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        self.enc.eval()
        self.dec.eval()
        return self.decode(self.encode(x))


def _fid_of(images: torch.Tensor, dataset) -> float:
    from genzoo.evaluators import frechet as fid

    net = fid.extractor()
    real = fid.image_stats([fid.dataset_images(dataset, "train", None)], net,
                           label="mnist5k train images")
    feats = [net(fid.to_uint8(images[i:i + net.batch_size]))
             for i in range(0, len(images), net.batch_size)]
    return fid.fid(fid.Stats.of(np.concatenate(feats)), real)


# --- genzoo's run ------------------------------------------------------------------------------


def _train(args: argparse.Namespace, out: Path) -> float:
    script = Path(sys.executable).with_name("genzoo")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "genzoo"]
    cmd = [*launcher, "train", args.model, "--dataset", "mnist5k", "--out", str(out),
           "--no-progress"]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    for setting in args.settings:
        cmd += ["--set", setting]
    print("running:", " ".join(cmd), flush=True)
    started = time.perf_counter()
    if subprocess.run(cmd).returncode != 0:
        raise SystemExit(1)
    return time.perf_counter() - started


def _scores(run: Path, svm_draws: int) -> dict[str, float]:
    from genzoo import api
    from genzoo.core import plugins

    registry = plugins.registry()
    session = api.open_run(registry, run, device="cpu")
    caps = session.model.capabilities
    metrics = ["fid", "icp"]
    if "reconstruct" in caps:
        metrics += ["reconstruction", "class-agreement"]
    if "features" in caps:
        metrics.append("svm-features")
    results = api.evaluate(registry, session, metrics, options={
        "fid_samples": FID_SAMPLES, "draws": svm_draws})
    out = {"steps": float(session.trainer.step)}
    for res in results.values():
        out.update({k: sum(v) / len(v) for k, v in res.metrics.items()})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ali")
    parser.add_argument("--steps", type=int, default=None, help="default: the model's own")
    parser.add_argument("--out", type=Path, help="run directory (default: a new temp dir)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a model setting (repeatable)")
    parser.add_argument("--svm-draws", type=int, default=20,
                        help="label draws of the svm-features protocol (the paper: 100)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the plain eager reference loop")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="genzoo-mnist5k-")) / args.model
    wall = _train(args, out)
    scores = _scores(out, args.svm_draws)
    rows = [(f"genzoo {args.model}", wall, scores)]
    if not args.no_reference:
        from genzoo.core import plugins
        from genzoo.evaluators import label_classifier
        from genzoo.evaluators.classes import agreement, icp, labelled_heldout

        data = plugins.registry().dataset("mnist5k")
        x_train = data.examples("train")[0].float() / 255.0
        ref = Reference()
        print(f"reference: training for {wall:.0f} s", flush=True)
        ref.train_for(wall, x_train)
        clf = label_classifier.for_dataset(data)
        x, y = labelled_heldout(data, 1_000)
        samples = ref.sample(FID_SAMPLES)
        rows.append(("reference loop", wall, {
            "steps": float(ref.steps), "fid": _fid_of(samples, data),
            "class_agreement": float(agreement(clf.predict(ref.reconstruct(x))[None], y)[0]),
            "icp": icp(clf.probabilities(samples))}))
    keys = ["steps", "fid", "class_agreement", "reconstruction_normalized", "icp",
            "class_share_min", "class_share_max", "error", "error_std",
            "classifier_accuracy", "icp_real"]
    print(f"\nmnist5k, FID of {FID_SAMPLES} samples against the 4,000 training digits; "
          f"class agreement on 1,000 held-out digits; svm-features with 1,000 labels, "
          f"{args.svm_draws} draws")
    # one row per measure, a column per loop: the measure names are too long for columns
    print(f"{'':28}" + "".join(f"{name:>18}" for name, _, _ in rows))
    print(f"{'train seconds':28}" + "".join(f"{seconds:18.0f}" for _, seconds, _ in rows))
    for k in keys:
        print(f"{k:28}" + "".join(f"{s[k]:18.4g}" if k in s else f"{'-':>18}"
                                  for _, _, s in rows))
    if len(rows) == 2:
        print(f"\nFID genzoo / reference: {rows[0][2]['fid'] / rows[1][2]['fid']:.2f} "
              f"(target <= 0.25)")
    print(json.dumps({name: s for name, _, s in rows}))
    print(f"run: {out} (samples/, reconstructions/, results.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
