"""ALICE's λ sweep on mnist5k beside the authors' published one, plus any other runs to compare.

For each λ in --lambdas, trains ``genzoo train alice --dataset mnist5k --set lambda_x=λ --set
lambda_z=λ`` (its defaults otherwise; λ = 0 is ALI exactly, tested) as a user runs it, then
scores the run with genzoo's evaluators: FID of 1,000 samples against the 4,000 training
digits, ICP (classifier inception score), class agreement of reconstructions, reconstruction
MSE and svm-features (1,000 labels). ``--run NAME=MODEL[:KEY=VALUE,...]`` adds other runs to
the same table (the defaults: ``ali`` and ``ali+unary``, BigBiGAN's unary scores).

The authors' MSE scale: their MNIST code is not public (only the notebook's numbers are), and
their image code has pixels on [-1, 1]; the column ``mse [-1,1]`` is the per-pixel MSE of
held-out reconstructions on that scale (4 x genzoo's ``reconstruction_mse``, pixels on
[0, 1]), our reading of their number.

Writes OUT/sweep.json and OUT/alice_sweep.png (ICP and class agreement against λ, log axis,
the published ICP beside them). With ``--jobs 2`` two runs train at once, one thread each
(more runs an hour on 2 cores; their train seconds are then not a single run's wall time).

    .venv/bin/python bench/alice_sweep.py                                  # the whole sweep
    .venv/bin/python bench/alice_sweep.py --lambdas 0,1 --run none --steps 500 --jobs 2
    .venv/bin/python bench/alice_sweep.py --reuse          # go on after an interruption
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# ALICE's MNIST sweep (ChunyuanLI/ALICE, plot_generation/alice_plots_paper.ipynb): λ -> ICP, MSE
PUBLISHED = {0: (8.749, 0.480), 0.001: (8.901, 0.457), 0.01: (9.105, 0.172),
             0.1: (9.262, 0.098), 1: (9.279, 0.080), 10: (8.918, 0.086), 100: (8.533, 0.223),
             1000: (7.776, 0.239)}
DEFAULT_RUNS = ["ali=ali", "ali+unary=ali:unary_scores=true"]
METRICS = ["fid", "icp", "reconstruction", "class-agreement", "svm-features"]


def _parse_run(text: str) -> tuple[str, str, list[str]]:
    name, _, spec = text.partition("=")
    model, _, settings = spec.partition(":")
    if not name or not model:
        raise SystemExit(f"--run {text!r}: expected NAME=MODEL[:KEY=VALUE,...]")
    return name, model, [s for s in settings.split(",") if s]


def _train(out: Path, model: str, settings: list[str], steps: int | None,
           threads: int | None, seed: int = 0) -> float:
    script = Path(sys.executable).with_name("genzoo")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "genzoo"]
    cmd = [*launcher, "train", model, "--dataset", "mnist5k", "--out", str(out),
           "--no-progress", "--seed", str(seed)]
    if steps:
        cmd += ["--steps", str(steps)]
    for setting in settings:
        cmd += ["--set", setting]
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    print("running:", " ".join(cmd[1:]), flush=True)
    log = out.parent / f"{out.name}.log"  # not with_suffix: "alice_λ0.01" has a dot
    started = time.perf_counter()
    with log.open("w") as f:
        if subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode != 0:
            raise SystemExit(f"training failed: see {log}")
    return time.perf_counter() - started


def _finished(run: Path) -> bool:
    """A run that trained to the end of its steps (its last metrics line is its last step)."""
    try:
        config = json.loads((run / "config.json").read_text())
        last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return False
    return last.get("step") == config["train"]["steps"]


def _run_seconds(run: Path) -> float:
    """The training seconds a run logged at its last step."""
    return float(json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["seconds"])


def _earlier_rows(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return []


def _scores(run: Path, svm_draws: int) -> dict[str, float]:
    from genzoo import api
    from genzoo.core import plugins

    registry = plugins.registry()
    session = api.open_run(registry, run, device="cpu")
    metrics = METRICS if svm_draws else METRICS[:-1]
    results = api.evaluate(registry, session, metrics,
                           options={"fid_samples": 1_000, "draws": max(svm_draws, 1)})
    out: dict[str, float] = {}
    for res in results.values():
        out.update({k: sum(v) / len(v) for k, v in res.metrics.items()})
    out["mse_authors_scale"] = 4 * out["reconstruction_mse"]
    return out


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = sorted((r for r in rows if r["lambda"] is not None), key=lambda r: r["lambda"])
    if not sweep:
        return
    positive = [r["lambda"] for r in sweep if r["lambda"] > 0] + list(PUBLISHED)[1:]
    zero_at = min(positive) / 10  # λ = 0 drawn one decade left of the smallest λ
    at = [r["lambda"] or zero_at for r in sweep]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(at, [r["icp"] for r in sweep], "o-", label="genzoo, mnist5k")
    pub = sorted(PUBLISHED.items())
    ax1.plot([lam or zero_at for lam, _ in pub], [icp for _, (icp, _) in pub], "s--",
             color="gray", label="ALICE paper (published)")
    ax1.set_ylabel("ICP (10 = the most)")
    ax2.plot(at, [100 * r["class_agreement"] for r in sweep], "o-", label="class agreement")
    ax2.set_ylabel("reconstructions keeping the class (%)")
    ax2.axhline(10, color="gray", lw=0.5)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel(f"λ (λ = 0, ALI, drawn at {zero_at:g})")
        ax.legend(loc="lower left")
    fig.suptitle("ALICE's weight λ on mnist5k (FID-1k in sweep.json)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lambdas", default="0,0.01,0.1,1,10,100",
                        help="comma-separated λ values (λ_x = λ_z = λ)")
    parser.add_argument("--run", dest="runs", action="append", default=None,
                        metavar="NAME=MODEL[:K=V,...]",
                        help=f"another run in the table (default: {' '.join(DEFAULT_RUNS)}; "
                             f"'none' for none)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a setting for every alice run of the sweep")
    parser.add_argument("--steps", type=int, default=None, help="default: the models' own")
    parser.add_argument("--seed", type=int, default=0, help="every run's training seed")
    parser.add_argument("--svm-draws", type=int, default=20,
                        help="label draws of svm-features (0: skip it)")
    parser.add_argument("--jobs", type=int, default=1, choices=(1, 2))
    parser.add_argument("--out", type=Path, default=Path("bench-out/alice-sweep"))
    parser.add_argument("--reuse", action="store_true",
                        help="score a run already trained to its end in OUT instead of "
                             "training it again, and keep the scores sweep.json holds for "
                             "it (an interrupted sweep goes on)")
    args = parser.parse_args(argv)

    lambdas = [float(v) for v in args.lambdas.split(",") if v]
    jobs: list[tuple[str, float | None, str, list[str]]] = [
        (f"alice λ={lam:g}", lam, "alice",
         [*args.settings, f"lambda_x={lam:g}", f"lambda_z={lam:g}"]) for lam in lambdas]
    runs = DEFAULT_RUNS if args.runs is None else [r for r in args.runs if r != "none"]
    for text in runs:
        name, model, settings = _parse_run(text)
        jobs.append((name, None, model, settings))
    args.out.mkdir(parents=True, exist_ok=True)

    earlier = {r["name"]: r for r in _earlier_rows(args.out / "sweep.json")}

    def one(job: tuple[str, float | None, str, list[str]]) -> dict:
        name, lam, model, settings = job
        folder = args.out / (name.replace(" ", "_").replace("=", "")
                             + (f"-seed{args.seed}" if args.seed else ""))
        if args.reuse and _finished(folder):
            seconds = earlier.get(name, {}).get("train_seconds", _run_seconds(folder))
            print(f"reusing {folder} (trained in {seconds:.0f} s)", flush=True)
        else:
            threads = 1 if args.jobs > 1 else None
            seconds = _train(folder, model, settings, args.steps, threads, args.seed)
        return {"name": name + (f" seed {args.seed}" if args.seed else ""), "lambda": lam,
                "model": model, "settings": settings, "train_seconds": seconds,
                "run": str(folder)}

    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one, jobs))
    for row in rows:  # scored one at a time, after every run has trained
        before = earlier.get(row["name"], {})
        if args.reuse and "fid" in before and before.get("settings") == row["settings"] \
                and before.get("svm_draws") == args.svm_draws:
            row.update({k: v for k, v in before.items() if k not in row})  # scored already
            continue
        row.update(_scores(Path(row["run"]), args.svm_draws), svm_draws=args.svm_draws)
    if args.reuse:  # the earlier runs not named this time stay in the table, after these
        named = {row["name"] for row in rows}
        rows += [row for name, row in earlier.items() if name not in named]
    (args.out / "sweep.json").write_text(json.dumps(rows, indent=1))
    _plot(rows, args.out / "alice_sweep.png")

    print("\nmnist5k: FID-1k (1,000 samples vs the 4,000 training digits), ICP, class "
          "agreement of held-out reconstructions, MSE per pixel on [-1, 1]; published: "
          "ALICE's MNIST sweep (their networks, full MNIST)")
    head = (f"{'run':16}{'train s':>9}{'FID-1k':>8}{'ICP':>7}{'pub ICP':>8}{'agree':>8}"
            f"{'mse':>7}{'pub mse':>8}{'svm err':>9}")
    print(head)
    for r in rows:
        pub = PUBLISHED.get(r["lambda"]) if r["lambda"] is not None else None
        svm = r.get("error")
        print(f"{r['name']:16}{r['train_seconds']:9.0f}{r['fid']:8.1f}{r['icp']:7.2f}"
              f"{(f'{pub[0]:.3f}' if pub else '-'):>8}{100 * r['class_agreement']:7.1f}%"
              f"{r['mse_authors_scale']:7.3f}{(f'{pub[1]:.3f}' if pub else '-'):>8}"
              f"{(f'{100 * svm:.1f}%' if svm is not None and not math.isnan(svm) else '-'):>9}")
    print(f"wrote {args.out / 'sweep.json'} and {args.out / 'alice_sweep.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
