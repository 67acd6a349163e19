"""bench/gpu_check.py, the GPU path's one-command check, rehearsed on the CPU at tiny sizes so
that it cannot rot: every check runs, the table is printed, and the exit code says whether all
held. (The GPU run itself needs a GPU machine; docs/guide.md says what has run where.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_check.py"


def _run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def test_without_a_gpu_it_says_how_to_rehearse_in_one_line() -> None:
    if __import__("torch").cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = _run(timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("no CUDA GPU here; run with --device cpu --tiny for the CPU "
                                   "rehearsal")


def test_an_unknown_check_to_skip_is_refused() -> None:
    done = _run("--device", "cpu", "--tiny", "--skip", "everything", timeout=120)
    assert done.returncode == 2 and "unknown check(s) to skip: everything" in done.stderr


@pytest.mark.slow
def test_the_cpu_rehearsal_passes_every_check(tmp_path: Path) -> None:
    done = _run("--device", "cpu", "--tiny", "--out", str(tmp_path))
    table = done.stdout[done.stdout.rindex("genzoo GPU check on"):]
    assert done.returncode == 0, table + done.stderr[-3000:]
    for check in ("train", "resume", "cross-device", "evaluate", "fid-devices", "throughput",
                  "compare", "torchrun"):
        assert any(line.startswith(check) for line in table.splitlines()), check
    assert "bit-identical to the uninterrupted run" in table
    assert "FAIL" not in table
