"""The example third-party plugin: installed with pip, genzoo finds, trains and evaluates it.

Nothing in genzoo names the example; it is found through its entry point only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "genzoo-example-plugin"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example installed by pip into a directory of its own (from a copy, so the build
    leaves nothing in the checkout)."""
    base = tmp_path_factory.mktemp("example")
    source = base / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                   "__pycache__"))
    target = base / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--no-index", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (target / "genzoo_example" / "plugin.py").is_file()
    return target


def run(site: Path, *args: str, cwd: Path, genzoo: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENZOO_")}
    env["PYTHONPATH"] = str(site)
    command = [sys.executable, "-m", "genzoo", *args] if genzoo else [sys.executable, *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_genzoo_without_the_example_does_not_know_it(tmp_path):
    from genzoo.core import plugins

    reg = plugins.build_registry()
    assert "gaussian" not in reg.models and "example" not in reg.plugins


def test_genzoo_discovers_trains_samples_and_evaluates_the_installed_example(site, tmp_path):
    listed = run(site, "plugins", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    example = next(p for p in data["plugins"] if p["name"] == "example")
    assert example == {"name": "example", "distribution": "genzoo-example-plugin",
                       "version": "0.1.0", "models": ["gaussian"], "datasets": ["blob"],
                       "evaluators": ["mean-error"], "error": None,
                       "disabled": False}
    assert {"gan", "vae"} <= {m["name"] for m in data["models"]}  # the bundled ones still load

    trained = run(site, "train", "gaussian", "--toy", "grid25", "--steps", "20", "--out", "r",
                  "--no-progress", "--log-every", "5", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["plugins"]["example"] == "0.1.0" and config["model"] == "gaussian"
    assert config["train"]["batch_size"] == 256  # the model's own suggested batch size
    losses = [json.loads(line)["nll"] for line in (tmp_path / "r" / "metrics.jsonl").open()]
    assert len(losses) == 4 and losses[-1] < losses[0]

    evaluated = run(site, "evaluate", "r", "--metric", "mean-error", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    entry = results["evaluators"]["mean-error"]
    assert entry["step"] == 20 and len(entry["metrics"]["mean_error"]["values"]) == 1
    assert (tmp_path / entry["artifacts"]["per_seed"]).is_file()  # relative to the cwd

    sampled = run(site, "sample", "r", "-n", "64", "-o", "x.npy", cwd=tmp_path)
    assert sampled.returncode == 0, sampled.stderr
    assert np.load(tmp_path / "x.npy").shape == (64, 2)


def test_the_example_can_be_blocked_by_name(site, tmp_path):
    env_run = run(site, "-c", "import os, json; os.environ['GENZOO_DISABLE_PLUGINS'] = "
                  "'example'; from genzoo.core.plugins import build_registry; "
                  "r = build_registry(); print(json.dumps({n: p.disabled for n, p in "
                  "r.plugins.items()}), sorted(r.models.names()))", cwd=tmp_path,
                  genzoo=False)
    assert env_run.returncode == 0, env_run.stderr
    disabled = json.loads(env_run.stdout.split("}")[0] + "}")
    assert disabled["example"] and not disabled["gan"]  # listed as disabled, never loaded
    assert "gaussian" not in env_run.stdout and "'gan'" in env_run.stdout


def test_the_examples_own_tests_pass_against_the_installed_plugin(site, tmp_path):
    tests = shutil.copytree(EXAMPLE / "tests", tmp_path / "tests")
    done = run(site, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests), cwd=tmp_path,
               genzoo=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout
