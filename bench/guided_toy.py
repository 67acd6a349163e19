"""Guided sampling (drs, mh, langevin) on a toy mixture: the raw and guided compares, in one run.

Runs `genzoo compare MODELS --toy TOY` (raw) and then the same compare with `--sampler S` for
each sampler asked for, in subprocesses as a user runs them, and prints for every model its
raw and guided modes, high-quality fraction and reverse KL (PacGAN protocol, mean ± std over
the seeds), the acceptance rate, and each guided compare's wall time over the raw one's.

    .venv/bin/python bench/guided_toy.py                          # ali gan vae, grid25, drs+mh
    .venv/bin/python bench/guided_toy.py ali gan --samplers langevin      # the refinement
    .venv/bin/python bench/guided_toy.py --toy ring8 --samplers drs
    .venv/bin/python bench/guided_toy.py -- --seeds 3             # extra `genzoo compare` options
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METRICS = ("modes", "high_quality", "reverse_kl", "acceptance_rate")
TARGETS = {"modes": (">=", {"grid25": 24.9, "ring8": 8.0}),
           "high_quality": (">=", {"grid25": 0.96, "ring8": 0.97}),
           "reverse_kl": ("<=", {"grid25": 0.03, "ring8": 0.03})}
WALL_RATIO_TARGET = {"drs": 1.2, "mh": 1.2, "langevin": 1.3}


def _compare(models: list[str], toy: str, out: Path, extra: list[str]) -> tuple[dict, float]:
    script = Path(sys.executable).with_name("genzoo")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "genzoo"]
    cmd = [*launcher, "compare", *models, "--toy", toy, "--out", str(out), "--no-progress",
           *extra]
    print("running:", " ".join(cmd), flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "results.json").read_text()), time.perf_counter() - started


def _cell(entry: dict, metric: str) -> str:
    value = entry.get(metric)
    if not isinstance(value, dict) or value.get("mean") is None:
        return "–"
    m, s = value["mean"], value["std"]
    if metric in ("high_quality", "acceptance_rate"):
        return f"{100 * m:.1f} ± {100 * s:.1f} %"
    return f"{m:.3f} ± {s:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["ali", "gan", "vae"])
    parser.add_argument("--toy", default="grid25")
    parser.add_argument("--samplers", nargs="+", default=["drs", "mh"])
    parser.add_argument("--out", type=Path, help="folder for the compares (default: temp)")
    argv = sys.argv[1:] if argv is None else argv
    cut = argv.index("--") if "--" in argv else len(argv)  # after --: `genzoo compare` options
    args = parser.parse_args(argv[:cut])
    extra = argv[cut + 1:]
    root = args.out or Path(tempfile.mkdtemp(prefix="genzoo-guided-"))
    raw, raw_wall = _compare(args.models, args.toy, root / "raw", extra)
    runs = {"raw": (raw, raw_wall)}
    for s in args.samplers:
        runs[s] = _compare(args.models, args.toy, root / s, [*extra, "--sampler", s])

    print(f"\n{args.toy}, {raw['settings']['seeds']} seeds, PacGAN protocol")
    print(f"{'model':<14}" + "".join(f"{m:>24}" for m in METRICS))
    for name in args.models:
        print(f"{name:<14}" + "".join(f"{_cell(raw['models'][name], m):>24}" for m in METRICS))
        for s in args.samplers:
            entry = runs[s][0]["models"].get(f"{name}+{s}")
            if entry is not None:
                print(f"{name + '+' + s:<14}" + "".join(f"{_cell(entry, m):>24}"
                                                      for m in METRICS))
    print(f"\nwall time: raw compare {raw_wall:.1f} s")
    for s in args.samplers:
        ratio = runs[s][1] / raw_wall
        target = WALL_RATIO_TARGET.get(s, 1.3)
        verdict = "met" if ratio <= target else "MISSED"
        print(f"  --sampler {s}: {runs[s][1]:.1f} s, {ratio:.2f}x raw "
              f"(target <= {target}x: {verdict})")
    for s in args.samplers:
        entry = runs[s][0]["models"].get(f"ali+{s}")
        if entry is None:
            continue
        for metric, (sense, by_toy) in TARGETS.items():
            target = by_toy.get(args.toy)
            m = entry.get(metric, {}).get("mean")
            if target is None or m is None:
                continue
            ok = m >= target if sense == ">=" else m <= target
            print(f"  ali+{s} {metric}: {m:.4g} (target {sense} {target}: "
                  f"{'met' if ok else 'MISSED'})")
    print(f"\noutputs: {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
