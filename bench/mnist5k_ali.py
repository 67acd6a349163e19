"""A short CPU run of an encoder model on `mnist5k`, judged by a classifier trained on the labels.

Trains MODEL (default ALI, its default image preset) on mnist5k's 4,000 training digits through
`genzoo train` (a subprocess, as a user runs it), then fits an RBF SVM on the same training
pixels and reports, on the 1,000 held-out digits:

- the classifier's accuracy on the real test digits (how far it can be trusted);
- reconstruction class agreement: the fraction of held-out digits whose reconstruction
  x -> z -> x' the classifier puts in x's own class (chance: 10 %);
- the class histogram of samples from p(z) (a model that drops digits shows holes).

Sample and reconstruction grids are in the run directory (samples/, reconstructions/).

    .venv/bin/python bench/mnist5k_ali.py                 # ali, its default steps
    .venv/bin/python bench/mnist5k_ali.py --model vae --steps 1000
    .venv/bin/python bench/mnist5k_ali.py --precision bf16 --set lr_d=2e-4
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genzoo import api, plugins
from genzoo.evaluators.base import eval_rng


def _classifier(x_train: np.ndarray, y_train: np.ndarray):
    from sklearn.svm import SVC

    return SVC(C=10.0, gamma="scale").fit(x_train.reshape(len(x_train), -1), y_train)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ali")
    parser.add_argument("--steps", type=int, default=None, help="default: the model's own")
    parser.add_argument("--out", type=Path, help="run directory (default: a new temp dir)")
    parser.add_argument("--precision", default="fp32", help="fp32 or bf16 (genzoo train's)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a model setting (repeatable)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="genzoo-mnist5k-")) / args.model
    script = Path(sys.executable).with_name("genzoo")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "genzoo"]
    cmd = [*launcher, "train", args.model, "--dataset", "mnist5k", "--out", str(out),
           "--no-progress"]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    cmd += ["--precision", args.precision]
    for setting in args.settings:
        cmd += ["--set", setting]
    print("running:", " ".join(cmd), flush=True)
    started = time.perf_counter()
    if subprocess.run(cmd).returncode != 0:
        return 1
    wall = time.perf_counter() - started

    registry = plugins.registry()
    session = api.open_run(registry, out, device="cpu")
    model, data = session.model, session.dataset
    x_train, y_train = data.examples("train")
    x_test, y_test = data.examples("test")
    clf = _classifier(x_train.numpy() / 255.0, y_train.numpy())
    test = x_test.float() / 255.0
    model.eval()
    with torch.no_grad():
        rec = model.reconstruct(test.unsqueeze(0), eval_rng(model))[0]
        samples = model.sample(1000, eval_rng(model, seed=1))[0]
    flat = lambda t: t.clamp(0, 1).reshape(len(t), -1).numpy()  # noqa: E731
    y = y_test.numpy()
    real_acc = float((clf.predict(flat(test)) == y).mean())
    agreement = float((clf.predict(flat(rec)) == y).mean())
    hist = np.bincount(clf.predict(flat(samples)), minlength=10) / len(samples)
    mse = float((rec - test).square().mean())
    print(f"\n{args.model} on mnist5k: {session.trainer.step} steps, batch "
          f"{session.trainer.settings.batch_size}, training wall {wall:.1f} s (genzoo train, "
          f"incl. start-up and per-epoch grids)")
    print(f"classifier (RBF SVM on pixels) accuracy on real test digits: {real_acc:.1%}")
    print(f"reconstruction class agreement on 1,000 test digits: {agreement:.1%} "
          f"(chance 10 %)")
    print(f"reconstruction mean squared error per pixel: {mse:.4f}")
    print("class histogram of 1,000 samples: " +
          " ".join(f"{k}:{p:.0%}" for k, p in enumerate(hist)))
    print(f"grids: {out}/samples, {out}/reconstructions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
