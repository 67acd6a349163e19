"""How fast the command line answers when it has nothing to compute: `--help`, a mistyped
option, a command's `--help`. The median of several runs of the installed `genzoo` script,
beside `python -c pass` and `python -c "import torch"` measured in the same run.

    .venv/bin/python bench/cli_startup.py            # 7 runs each
    .venv/bin/python bench/cli_startup.py --runs 15
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5


def _median(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    genzoo = str(Path(sys.executable).with_name("genzoo"))
    cases = [("python -c pass", [sys.executable, "-c", "pass"]),
             ("python -c 'import torch'", [sys.executable, "-c", "import torch"]),
             ("genzoo --help", [genzoo, "--help"]),
             ("genzoo train --help", [genzoo, "train", "--help"]),
             ("genzoo compare --help", [genzoo, "compare", "--help"]),
             ("genzoo train --bogus (refused)", [genzoo, "train", "--bogus"])]
    print(f"{'command':<34}{'median s':>10}   target")
    for label, cmd in cases:
        t = _median(cmd, args.runs)
        verdict = "" if label.startswith("python") else \
            f"<= {TARGET_S} s: {'met' if t <= TARGET_S else 'MISSED'}"
        print(f"{label:<34}{t:>10.3f}   {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
