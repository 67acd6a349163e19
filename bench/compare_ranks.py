"""Wall time of `genzoo compare` in one process against the same compare over torchrun ranks,
measured in one run and reported as ratios (the machine is noisy: never run it beside another
timed job). Each configuration runs ``--repeats`` times, interleaved, and the medians are
compared; the results.json files of the last repeat are compared metric by metric too.

    .venv/bin/python bench/compare_ranks.py                          # the main job, 2 ranks
    .venv/bin/python bench/compare_ranks.py --steps 300 --repeats 3
    .venv/bin/python bench/compare_ranks.py --ranks 4 --models ali gan vae bigan alice

"single" is a plain `genzoo compare` with torch's default threads (all cores), "single-1t"
the same with one thread (what each rank gets from torchrun), "ranks" the torchrun launch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return seconds


def _values(path: Path) -> dict[tuple[str, str], list[float]]:
    results = json.loads(path.read_text())
    return {(m, k): v["values"] for m, e in results["models"].items() for k, v in e.items()
            if isinstance(v, dict) and "values" in v}


def _agreement(a: dict[tuple[str, str], list[float]],
               b: dict[tuple[str, str], list[float]]) -> str:
    """How many per-seed values are identical, and the largest gap between two runs' seed
    means in units of the seeds' spread (how far apart the table's cells are)."""
    pairs = [(x, y) for key in a for x, y in zip(a[key], b[key], strict=True)]
    same = sum(x == y for x, y in pairs)
    gaps = []
    for key in a:
        xs = [x for x in a[key] if x is not None]
        ys = [y for y in b[key] if y is not None]
        if xs and ys:
            spread = statistics.pstdev(xs) or 1e-12
            gaps.append((abs(statistics.mean(xs) - statistics.mean(ys)) / spread, key))
    gap, key = max(gaps) if gaps else (0.0, ("", ""))
    return (f"{same} of {len(pairs)} per-seed values identical; seed means differ by at most "
            f"{gap:.2f} std ({key[0]} {key[1]})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["ali", "gan", "vae"])
    parser.add_argument("--toy", default="grid25")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=None, help="default: each model's own")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    torchrun = bin_dir / "torchrun"
    job = ["compare", *args.models, "--toy", args.toy, "--seeds", str(args.seeds),
           "--device", "cpu", "--no-progress"]
    if args.steps:
        job += ["--steps", str(args.steps)]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GENZOO_") and k not in ("RANK", "WORLD_SIZE", "OMP_NUM_THREADS")}
    cases = {
        "single": ([str(bin_dir / "genzoo"), *job], env),
        "single-1t": ([str(bin_dir / "genzoo"), *job], {**env, "OMP_NUM_THREADS": "1"}),
        "ranks": ([str(torchrun), "--standalone", "--nproc-per-node", str(args.ranks), "-m",
                   "genzoo", *job], env),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    work = Path(tempfile.mkdtemp(prefix="genzoo-bench-ranks-"))
    try:
        for _ in range(args.repeats):
            for name, (cmd, case_env) in cases.items():
                out = work / name
                shutil.rmtree(out, ignore_errors=True)
                times[name].append(_run([*cmd, "--out", str(out)], case_env))
        medians = {name: statistics.median(t) for name, t in times.items()}
        print(f"genzoo {' '.join(job)}  ({os.cpu_count()} CPU cores, {args.repeats} "
              f"repeat(s), median wall seconds)")
        for name, seconds in medians.items():
            print(f"  {name:10s} {seconds:8.1f} s   single / this = "
                  f"{medians['single'] / seconds:.2f}")
        base = _values(work / "single-1t" / "results.json")
        for other in ("ranks", "single"):
            print(f"  results, {other} vs single-1t: " +
                  _agreement(base, _values(work / other / "results.json")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
