"""Benchmark the main job: `genzoo compare ali gan vae --toy grid25` with its defaults.

Runs the compare in a subprocess (exactly as a user would), measures its wall time and peak
resident memory (getrusage of the child), and prints both next to the targets of issue 3, with
ALI's quality under the PacGAN protocol next to its targets and the best published numbers.

    .venv/bin/python bench/compare_toy.py                  # the default compare
    .venv/bin/python bench/compare_toy.py gan vae          # other models
    .venv/bin/python bench/compare_toy.py -- --seeds 3     # extra `genzoo compare` options

Exit status 0 always, unless --check is given: then 1 when a measured target is missed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WALL_TARGET_S = 120.0
RSS_TARGET_GB = 1.5
# ALI, mean over seeds, PacGAN protocol: (metric, target, "ge"/"le", best published)
ALI_TARGETS = [("modes", 24.9, "ge", "PacGAN4 24.8; ALI 24.1 (PacGAN Table 1)"),
               ("high_quality", 0.97, "ge", "PacGAN4 93.6 %; ALI 95.7 %"),
               ("reverse_kl", 0.03, "le", "PacGAN4 0.04; ALI 0.14")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["ali", "gan", "vae"])
    parser.add_argument("--toy", default="grid25")
    parser.add_argument("--out", type=Path, help="compare directory (default: a new temp dir)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="after --: compare options")
    args = parser.parse_args(argv)
    extra = [a for a in args.extra if a != "--"]
    out = args.out or Path(tempfile.mkdtemp(prefix="genzoo-bench-")) / "compare"
    # the installed console script, as a user runs it; `python -m genzoo` would put the
    # current directory first on sys.path, where a stale *.egg-info can hide entry points
    script = Path(sys.executable).with_name("genzoo")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "genzoo"]
    cmd = [*launcher, "compare", *args.models, "--toy", args.toy,
           "--out", str(out), "--no-progress", *extra]
    print("running:", " ".join(cmd), flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd)
    wall = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9  # KiB here
    if proc.returncode != 0:
        print(f"compare failed with exit code {proc.returncode}")
        return proc.returncode
    results = json.loads((out / "results.json").read_text())

    default = not extra and args.models == ["ali", "gan", "vae"] and args.toy == "grid25"
    missed = []
    print(f"\n{'measure':<34}{'measured':>14}{'target':>12}   verdict")
    rows = [("wall time of the compare (s)", wall, WALL_TARGET_S, "le"),
            ("peak resident memory (GB)", peak_gb, RSS_TARGET_GB, "le")]
    for label, value, target, sense in rows:
        ok = value <= target if sense == "le" else value >= target
        missed += [] if ok else [label]
        print(f"{label:<34}{value:>14.2f}{'<= ' + str(target):>12}   {'met' if ok else 'MISSED'}")
    for name, entry in results["models"].items():
        print(f"  {name} training wall time (s){'':<{max(1, 9 - len(name))}}"
              f"{entry['seconds']:>14.1f}")
    if not default:
        print("(targets are for the default compare: ali gan vae --toy grid25, 10 seeds)")

    ali = results["models"].get("ali")
    if ali is None:
        print("\nALI quality: not measured (ali was not in this compare)")
    else:
        print(f"\nALI on {results['dataset']}, mean ± std over "
              f"{results['settings']['seeds']} seeds, PacGAN protocol")
        for metric, target, sense, published in ALI_TARGETS:
            m, s = ali[metric]["mean"], ali[metric]["std"]
            if m is None:
                ok, shown = False, "NaN"
            else:
                ok = m >= target if sense == "ge" else m <= target
                shown = f"{m:.3f} ± {s:.3f}"
            missed += [] if ok else [f"ali {metric}"]
            print(f"  {metric:<14}{shown:>18}  target {'>=' if sense == 'ge' else '<='} "
                  f"{target:<5} {'met' if ok else 'MISSED'}   published: {published}")
        print(f"  modes_paper   {ali['modes_paper']['mean']:>9.2f} ± "
              f"{ali['modes_paper']['std']:.2f}  (ALI paper reports 13.4 ± 5.8)")
    for f in results.get("findings", []):
        print(f"finding: {f['claim']}: {f['verdict']} ({f['evidence']})")
    print(f"\noutputs: {out}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
