"""The command line: one-line errors with exit code 2, run directories, sample, evaluate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from host_helpers import set_args, small_overrides
from safetensors.torch import load_file

import genzoo
from genzoo.cli import main
from genzoo.core import plugins
from genzoo.training.locks import LOCK_NAME
from genzoo.training.trainer import TrainSettings

STEPS, LOG_EVERY, CHECKPOINT_EVERY = 6, 2, 4


def cli(capsys, *args: str | Path) -> tuple[int, str, str]:
    """Run ``genzoo ARGS`` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv("GENZOO_DEBUG", raising=False)
    monkeypatch.delenv("GENZOO_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("GENZOO_DISABLE_PLUGINS", raising=False)


def small(model: str) -> list[str]:
    return set_args(small_overrides(plugins.registry().model(model)))


def train_args(model: str, out: Path, *extra: str) -> list[str]:
    return ["train", model, "--toy", "grid25", "--steps", str(STEPS), "--batch-size", "8",
            "--log-every", str(LOG_EVERY), "--checkpoint-every", str(CHECKPOINT_EVERY),
            "--seed", "3", "--out", str(out), "--no-progress", *small(model), *extra]


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "vae-run"
    with pytest.raises(SystemExit) as exited:
        main(train_args("vae", out))
    assert exited.value.code == 0
    return out


# --- what a run directory holds ------------------------------------------------------------------


def test_train_writes_config_with_every_setting_and_version(vae_run):
    config = json.loads((vae_run / "config.json").read_text())
    cls = plugins.registry().model("vae")
    assert set(config["model_config"]) == set(cls.Config.__dataclass_fields__)
    for key, value in small_overrides(cls).items():
        assert config["model_config"][key] == value
    assert set(config["train"]) == set(TrainSettings.__dataclass_fields__)
    assert config["train"]["steps"] == STEPS and config["train"]["batch_size"] == 8
    assert config["model"] == "vae" and config["dataset"] == "grid25"
    assert config["seeds"] == [3] and config["preset"] == "default"
    assert config["genzoo_version"] == genzoo.__version__
    assert config["plugins"]["vae"] == genzoo.__version__  # bundled: the host's version
    assert config["torch_version"] == torch.__version__


def test_train_writes_one_json_object_per_logged_step(vae_run):
    lines = (vae_run / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == list(range(LOG_EVERY, STEPS + 1, LOG_EVERY))
    for r in records:
        assert isinstance(r, dict) and r["seconds"] >= 0
        assert all(isinstance(v, float) and np.isfinite(v) for k, v in r.items()
                   if k not in ("step", "seconds"))
        assert len(r) > 2  # the model's own metrics are there


def test_checkpoints_are_safetensors_with_sidecars_and_nothing_is_pickled(vae_run):
    ckpts = sorted(p.name for p in (vae_run / "checkpoints").iterdir())
    assert ckpts == [f"step-{s:08d}.{ext}" for s in (CHECKPOINT_EVERY, STEPS)
                     for ext in ("json", "safetensors")]
    for name in ckpts:
        path = vae_run / "checkpoints" / name
        if name.endswith(".json"):
            assert json.loads(path.read_text())["step"] in (CHECKPOINT_EVERY, STEPS)
        else:
            assert any(k.startswith("model/") for k in load_file(path))
    for path in vae_run.rglob("*"):
        if path.is_file():
            # and the one-writer lock (a line of text naming its last holder) and
            # TensorBoard's event files (protobuf records)
            assert path.suffix in (".json", ".jsonl", ".safetensors") or \
                path.name == LOCK_NAME or (path.parent.name == "tensorboard" and
                                           path.name.startswith("events.out.tfevents.")), path
            head = path.read_bytes()[:2]
            assert head[:1] != b"\x80" and head != b"PK", f"{path} looks pickled / torch.save"


def test_resuming_a_finished_run_says_so(vae_run, capsys):
    code, out, _ = cli(capsys, "train", "--resume", vae_run, "--no-progress")
    assert code == 0 and "already trained to step 6" in out


# --- sample and evaluate -------------------------------------------------------------------------


def test_sample_writes_npy_of_the_right_shape(vae_run, tmp_path, capsys):
    code, out, err = cli(capsys, "sample", vae_run, "-n", "64", "-o", tmp_path / "x.npy")
    assert code == 0 and err == ""
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (64, 2) and x.dtype == np.float32 and np.isfinite(x).all()


def test_sample_writes_a_png(vae_run, tmp_path, capsys):
    code, _, _ = cli(capsys, "sample", vae_run, "-n", "64", "-o", tmp_path / "x.png")
    assert code == 0
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sample_is_reproducible(vae_run, tmp_path, capsys):
    for name in ("a.npy", "b.npy"):
        assert cli(capsys, "sample", vae_run, "-n", "16", "-o", tmp_path / name)[0] == 0
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_evaluate_writes_results_json(vae_run, capsys):
    code, out, err = cli(capsys, "evaluate", vae_run, "--metric", "mode-coverage")
    assert code == 0, err
    results = json.loads((vae_run / "results.json").read_text())
    entry = results["evaluators"]["mode-coverage"]
    assert entry["step"] == STEPS
    for summary in entry["metrics"].values():
        assert len(summary["values"]) == 1 and summary["mean"] == summary["values"][0]
    assert "modes" in entry["metrics"]
    assert "results written to" in out


def test_plugins_json_lists_the_bundled_plugins_from_entry_points(capsys):
    code, out, _ = cli(capsys, "plugins", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"plugins", "models", "datasets", "evaluators"}
    from importlib.metadata import entry_points

    bundled = {ep.name for ep in entry_points(group="genzoo")
               if ep.dist is not None and ep.dist.metadata["Name"] == "genzoo"}
    assert {"gan", "vae", "core-datasets"} <= bundled
    listed = {p["name"]: p for p in data["plugins"]}
    for name in bundled:
        assert listed[name]["distribution"] == "genzoo" and listed[name]["error"] is None
    assert {"gan", "vae"} <= {m["name"] for m in data["models"]}
    assert {"grid25", "ring8"} <= {d["name"] for d in data["datasets"]}
    assert all(m["plugin"] in listed for m in data["models"])


def test_plugins_table_names_every_plugin(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich would otherwise shorten names to fit 80
    code, out, _ = cli(capsys, "plugins")
    assert code == 0
    for name in plugins.registry().plugins:
        assert name in out


# --- bad input: one line, exit code 2, no traceback, nothing half-made ---------------------------


def broken_runs(vae_run: Path, tmp_path: Path) -> dict[str, Path]:
    """Copies of the run, each damaged one way, plus directories that are not runs."""
    import shutil

    made = {}
    for kind in ("corrupt", "sidecar", "nockpt", "badconfig", "lacks"):
        made[kind] = tmp_path / kind
        shutil.copytree(vae_run, made[kind])
    latest = made["corrupt"] / "checkpoints" / f"step-{STEPS:08d}.safetensors"
    latest.write_bytes(latest.read_bytes()[:100])
    (made["sidecar"] / "checkpoints" / f"step-{STEPS:08d}.json").write_text("{")
    shutil.rmtree(made["nockpt"] / "checkpoints")
    (made["badconfig"] / "config.json").write_text("{")
    (made["lacks"] / "config.json").write_text("{}")
    made["empty"] = tmp_path / "empty"
    made["empty"].mkdir()
    made["missing"] = tmp_path / "missing"
    return made


BAD_TRAIN = [
    (["train", "gann", "--toy", "grid25"], "unknown model 'gann'; did you mean gan"),
    (["train", "gan", "--toy", "grid26"], "unknown dataset 'grid26'; did you mean grid25"),
    (["train", "gan"], "name the data: --toy grid25|ring8"),
    (["train", "gan", "--toy", "grid25", "--steps", "0"], "--steps must be a positive integer"),
    (["train", "gan", "--toy", "grid25", "--steps", "-5"], "--steps must be a positive integer"),
    (["train", "gan", "--toy", "grid25", "--batch-size", "0"], "--batch-size must be a positive"),
    (["train", "gan", "--toy", "grid25", "--set", "nope=1"], "unknown setting 'nope'"),
    (["train", "gan", "--toy", "grid25", "--set", "lr=fast"], "lr='fast' is not a valid float"),
    (["train", "gan", "--toy", "grid25", "--set", "lr"], "must look like KEY=VALUE"),
    (["train", "gan", "--toy", "grid25", "--preset", "tiny"], "has no preset 'tiny'"),
    (["train", "gan", "--toy", "grid25", "--steps", "many"], "Invalid value for '--steps'"),
    (["train", "gan", "--toy", "grid25", "--bogus"], "No such option: --bogus"),
]


@pytest.mark.parametrize(("args", "words"), BAD_TRAIN, ids=[" ".join(a[1:]) for a, _ in BAD_TRAIN])
def test_bad_train_input_is_one_line_and_exit_2(capsys, tmp_path, args, words):
    out = tmp_path / "run"
    code, _, err = cli(capsys, *args, "--out", out, "--no-progress")
    assert code == 2
    assert err.count("\n") == 1 and words in err and "Traceback" not in err, err
    assert not out.exists()  # a refused command leaves no half-made run directory


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_device_that_is_not_present_is_refused(capsys, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", "gan", "--toy", "grid25", "--device", "cuda",
                       "--out", out, "--no-progress")
    assert code == 2 and err.count("\n") == 1
    assert "device 'cuda' is not available" in err and "--device cpu" in err
    assert not out.exists()


BAD_RUN = [
    (["sample", "{empty}"], "is not a genzoo run (no config.json)"),
    (["sample", "{missing}"], "does not exist"),
    (["sample", "{nockpt}"], "has no checkpoint yet"),
    (["sample", "{corrupt}"], "is corrupt (checksum mismatch)"),
    (["sample", "{sidecar}"], "is corrupt; "),
    (["sample", "{badconfig}"], "config.json is unreadable"),
    (["sample", "{lacks}"], "lacks 'model'"),
    (["sample", "{run}", "-o", "x.jpg"], "must end in .png or .npy"),
    (["sample", "{run}", "-n", "0"], "-n must be a positive integer"),
    (["sample", "{run}", "--replica", "1"], "--replica must be in 0..0"),
    (["evaluate", "{run}", "--metric", "mode-coverag"], "unknown evaluator 'mode-coverag'"),
    (["evaluate", "{corrupt}", "--metric", "mode-coverage"], "is corrupt"),
    (["train", "--resume", "{empty}"], "is not a genzoo run"),
    (["train", "--resume", "{corrupt}"], "is corrupt"),
    (["train", "--resume", "{run}", "--steps", "0"], "--steps must be a positive integer"),
]


@pytest.mark.parametrize(("args", "words"), BAD_RUN, ids=[" ".join(a) for a, _ in BAD_RUN])
def test_bad_run_input_is_one_line_and_exit_2(vae_run, capsys, tmp_path, args, words):
    dirs = {**broken_runs(vae_run, tmp_path), "run": vae_run}
    args = [a.format(**{k: str(v) for k, v in dirs.items()}) for a in args]
    code, _, err = cli(capsys, *args)
    assert code == 2
    assert err.count("\n") == 1 and words in err and "Traceback" not in err, err


def test_a_failed_resume_leaves_the_run_as_it_was(vae_run, capsys, tmp_path):
    dirs = broken_runs(vae_run, tmp_path)
    before = {p: p.read_bytes() for p in dirs["corrupt"].rglob("*") if p.is_file()}
    assert cli(capsys, "train", "--resume", dirs["corrupt"], "--steps", "50")[0] == 2
    after = {p: p.read_bytes() for p in dirs["corrupt"].rglob("*") if p.is_file()}
    assert after == before


def genzoo_subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENZOO_")}
    return subprocess.run([sys.executable, "-m", "genzoo", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def test_a_real_process_prints_one_line_and_with_debug_the_traceback(tmp_path):
    plain = genzoo_subprocess("train", "gann", "--toy", "grid25", cwd=tmp_path)
    assert plain.returncode == 2 and plain.stdout == ""
    assert plain.stderr.strip().splitlines() == [
        plain.stderr.strip()] and "did you mean gan" in plain.stderr
    assert "Traceback" not in plain.stderr
    debug = genzoo_subprocess("--debug", "train", "gann", "--toy", "grid25", cwd=tmp_path)
    assert debug.returncode == 2  # --debug shows the traceback, not another exit code
    assert "Traceback (most recent call last)" in debug.stderr
    assert "GenzooError: unknown model 'gann'" in debug.stderr
    assert not (tmp_path / "runs").exists()


def test_importing_the_cli_and_asking_for_help_does_not_import_torch():
    code = ("import sys\n"
            "from genzoo.cli import main\n"
            "for argv in (['--help'], ['train', '--help'], ['compare', '--help']):\n"
            "    try:\n"
            "        main(argv)\n"
            "    except SystemExit:\n"
            "        pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
