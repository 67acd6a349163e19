"""`genzoo compare` under torchrun: (model, seed block) jobs shared out over 2 CPU ranks.

Each launch goes through tests/compare_probe.py, which adds a non-vectorized VAE (each seed
trains alone, so sharding cannot change its numbers) and a model that fails on seed 1.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genzoo.compare import concat_blocks, plan
from genzoo.training.shards import assign, split

PROBE = Path(__file__).with_name("compare_probe.py")
ARGS = ["compare", "ali", "vae", "vae-stacked", "--toy", "grid25", "--steps", "8",
        "--seeds", "4", "--device", "cpu", "--no-progress"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GENZOO_") and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"  # torchrun's default per rank: the single run uses it too
    return env


def launch(args: list[str], cwd: Path, ranks: int = 2, **env: str
           ) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("torchrun")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m",
                                                      "torch.distributed.run"]
    cmd = ([*launcher, "--standalone", "--nproc-per-node", str(ranks), str(PROBE), *args]
           if ranks > 1 else [sys.executable, str(PROBE), *args])
    return subprocess.run(cmd, cwd=cwd, env={**_env(), **env}, capture_output=True,
                          text=True, timeout=180)


def test_seed_blocks_and_their_ranks():
    assert [list(b) for b in split(10, 3)] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert [list(b) for b in split(2, 2)] == [[0], [1]]
    assert assign([5, 5, 5, 5, 5, 5], 2) == [0, 1, 0, 1, 0, 1]
    assert assign([1, 1, 1], 2) == [0, 1, 0]
    jobs = plan(["ali", "vae"], 10, Path("OUT"), world=2)
    assert [(j.model, j.seeds, j.rank) for j in jobs] == [
        ("ali", [0, 1, 2, 3, 4], 0), ("ali", [5, 6, 7, 8, 9], 1),
        ("vae", [0, 1, 2, 3, 4], 0), ("vae", [5, 6, 7, 8, 9], 1)]
    assert jobs[1].run_dir == Path("OUT/runs/ali/seeds-5-9")
    # one seed: whole models dealt out in turn; one process: today's OUT/runs/MODEL
    assert [j.rank for j in plan(["ali", "gan", "vae"], 1, Path("O"), world=2)] == [0, 1, 0]
    assert [j.run_dir for j in plan(["ali"], 10, Path("O"))] == [Path("O/runs/ali")]


@pytest.fixture(scope="module")
def both(tmp_path_factory) -> tuple[dict, dict, Path]:
    root = tmp_path_factory.mktemp("ranks")
    sharded = launch([*ARGS, "--out", "T"], root)
    assert sharded.returncode == 0, sharded.stdout[-3000:] + sharded.stderr[-3000:]
    single = launch([*ARGS, "--out", "S"], root, ranks=1)
    assert single.returncode == 0, single.stdout[-3000:] + single.stderr[-3000:]
    return (json.loads((root / "S" / "results.json").read_text()),
            json.loads((root / "T" / "results.json").read_text()), root / "T")


def metric_values(results: dict, model: str) -> dict[str, list[float]]:
    return {k: v["values"] for k, v in results["models"][model].items()
            if isinstance(v, dict) and "values" in v}


def test_two_ranks_give_the_single_process_results(both):
    single, sharded, _ = both
    assert list(sharded["models"]) == list(single["models"])
    for model in single["models"]:
        want, got = metric_values(single, model), metric_values(sharded, model)
        assert set(got) == set(want) and want, model
        for key, values in want.items():
            if model == "vae-stacked":  # each seed alone either way: the same computation
                assert got[key] == values, (model, key)
            else:  # a block of 2 seeds batches its reductions unlike the 4 of one process
                assert got[key] == pytest.approx(values, rel=1e-3, abs=1e-6), (model, key)


def test_each_block_is_a_run_written_by_its_rank_and_rank_0_writes_the_report(both):
    _, sharded, out = both
    assert sharded["settings"]["ranks"] == 2
    for model, entry in sharded["models"].items():
        blocks = entry["run"]["blocks"]
        assert [(b["seeds"], b["rank"]) for b in blocks] == [([0, 1], 0), ([2, 3], 1)], model
        for b in blocks:
            run = out.parent / b["dir"]  # as given: --out T, from the launch's folder
            assert run == out / "runs" / model / f"seeds-{b['seeds'][0]}-{b['seeds'][-1]}"
            config = json.loads((run / "config.json").read_text())
            assert config["seeds"] == b["seeds"] and config["world_size"] == 1
            assert (run / "checkpoints" / "step-00000008.safetensors").exists()
    assert (out / "figure.png").stat().st_size > 10_000
    page = (out / "report.html").read_text()
    assert "vae-stacked" in page and "seeds 2–3 on rank 1" in page


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines()
            if line.startswith("error:")]


def _failing(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    proc = launch(["compare", "gan", "fails-on-seed-1", "--toy", "grid25", "--steps", "40",
                   "--seeds", "2", "--device", "cpu", "--no-progress", "--out", "F"],
                  tmp_path, **env)
    assert proc.returncode != 0
    assert not (tmp_path / "F" / "results.json").exists()
    return proc


def _root_cause(proc: subprocess.CompletedProcess) -> str:
    """torchrun's report of the first failed rank."""
    return proc.stderr.rpartition("Root Cause (first observed failure):")[2]


def test_a_failing_rank_says_so_once_and_torchrun_stops_the_others(tmp_path):
    proc = _failing(tmp_path)
    assert _error_lines(proc) == ["error: rank 1 failed: the probe fails here on purpose"], \
        proc.stdout[-2000:] + proc.stderr[-3000:]
    cause = _root_cause(proc)
    assert "rank      : 1 (local_rank: 1)" in cause and "exitcode  : 2" in cause, cause


def test_a_rank_whose_process_dies_is_named_by_torchrun(tmp_path):
    proc = _failing(tmp_path, PROBE_CRASH="1")
    assert _error_lines(proc) == [], proc.stdout[-2000:] + proc.stderr[-3000:]
    cause = _root_cause(proc)
    assert "rank      : 1 (local_rank: 1)" in cause and "exitcode  : 7" in cause, cause


def test_a_refusal_every_rank_makes_is_said_once(tmp_path):
    (tmp_path / "F").write_text("a file, not a folder")
    proc = launch(["compare", "gan", "--toy", "grid25", "--steps", "4", "--seeds", "2",
                   "--device", "cpu", "--no-progress", "--out", "F"], tmp_path)
    assert proc.returncode != 0  # torchrun's own code (1) for a failed worker
    lines = _error_lines(proc)
    assert len(lines) == 1 and "rank" not in lines[0], proc.stdout[-2000:] + proc.stderr[-3000:]


def test_blocks_are_joined_seed_by_seed_with_gaps_where_an_evaluator_failed():
    joined = concat_blocks([{"a": [1.0, 2.0], "b": [5.0, 6.0]}, {"a": [3.0]}], [2, 1])
    assert joined["a"] == [1.0, 2.0, 3.0]
    assert joined["b"][:2] == [5.0, 6.0] and math.isnan(joined["b"][2])
    assert list(concat_blocks([{}, {"c": [7.0]}], [2, 1])["c"][2:]) == [7.0]
